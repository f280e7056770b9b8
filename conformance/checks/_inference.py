"""Requests and readings shared by the inference checks of generate and chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.target import Target

PROMPT = "Write one short sentence about the sea."


@dataclass(frozen=True)
class Api:
    """generate and chat differ in path, prompt field and where the text is."""

    op: str
    path: str

    def body(self, model: str, prompt: str) -> dict[str, Any]:
        if self.op == "chat":
            return {"model": model, "messages": [{"role": "user", "content": prompt}]}
        return {"model": model, "prompt": prompt}

    def empty_body(self, model: str) -> dict[str, Any]:
        """The load request: an empty prompt, or no messages."""
        if self.op == "chat":
            return {"model": model, "messages": []}
        return {"model": model, "prompt": ""}

    def text(self, obj: dict[str, Any]) -> str:
        if self.op == "chat":
            message = obj.get("message") or {}
            return str(message.get("content") or "")
        return str(obj.get("response") or "")


GENERATE = Api("generate", "/api/generate")
CHAT = Api("chat", "/api/chat")


def send(
    t: Target,
    api: Api,
    *,
    stream: bool,
    prompt: str = PROMPT,
    model: str | None = None,
    num_predict: int = 8,
    options: dict[str, Any] | None = None,
    **fields: Any,
) -> Exchange:
    body = api.body(model or t.model_with("completion"), prompt)
    body["stream"] = stream
    body["options"] = {**t.options_for_inference(num_predict), **(options or {})}
    body.update(fields)
    # One line per token at most, plus the final line; a margin for servers
    # that split a token's text over lines.
    budget = 2 * body["options"]["num_predict"] + 8 if stream else None
    return t.client.post(api.path, body, max_lines=budget)


def complete(t: Target, api: Api, **kwargs: Any) -> tuple[str, dict[str, Any], Exchange]:
    """A non-streamed answer, checked against the spec: (text, body, exchange)."""
    ex = send(t, api, stream=False, **kwargs)
    body = expect.json_body(ex, api.op)
    if body.get("done") is not True:
        raise expect.fail("a non-streamed answer without done: true", ex)
    return api.text(body), body, ex


def streamed(t: Target, api: Api, **kwargs: Any) -> tuple[str, list[dict[str, Any]], Exchange]:
    """A streamed answer, every line checked: (joined text, lines, exchange)."""
    ex = send(t, api, stream=True, **kwargs)
    lines = expect.ndjson_lines(ex, api.op)
    return "".join(api.text(line) for line in lines), lines, ex


def content_lines(api: Api, lines: list[dict[str, Any]]) -> int:
    return sum(1 for line in lines[:-1] if api.text(line))
