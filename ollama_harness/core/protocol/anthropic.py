"""The Anthropic Messages API (``POST /v1/messages``) as a translation of native chat.

Ollama's ``anthropic`` package and middleware turn a Messages request into a native
chat request and each native answer back into Anthropic's objects. Both servers do
the same with these functions: the request side (:func:`check_request`,
:func:`to_chat`, the wording of a refused body), the answer side (:func:`message`,
:class:`StreamEvents`, :func:`stop_reason`) and Anthropic's error envelope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import framing
from ollama_harness.core.spec import SpecIssue

PATH = "/v1/messages"
MESSAGE = "message"
MAX_TOKENS_REQUIRED = "max_tokens is required and must be positive"
MESSAGES_REQUIRED = "messages is required"
MODEL_REQUIRED = "model is required"

# anthropic.NewError: the error type each status carries.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "api_error")


def request_id(seed_text: str) -> str:
    """A request id from the error's words: Ollama's are random, the mock's repeatable."""
    return "req_" + hashlib.blake2b(seed_text.encode(), digest_size=12).hexdigest()


def error(status: int, message: str, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope; Ollama adds a ``request_id`` to a refused request."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type(status), "message": message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


# -- the request ---------------------------------------------------------------------


def check_request(body: dict[str, Any]) -> None:
    """The middleware's own checks, in its order, after the body decoded."""
    if not body.get("model"):
        raise ApiError(400, MODEL_REQUIRED)
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ApiError(400, MAX_TOKENS_REQUIRED)
    if not body.get("messages"):
        raise ApiError(400, MESSAGES_REQUIRED)


def translate_issue(body: Any, issue: SpecIssue) -> ApiError | None:
    """A missing model / max_tokens / messages in the middleware's words; None otherwise."""
    if issue.rule == "required" and issue.path == "$":
        missing = issue.message.split("'")[1] if "'" in issue.message else ""
        if missing == "model":
            return ApiError(400, MODEL_REQUIRED)
        if missing == "max_tokens":
            return ApiError(400, MAX_TOKENS_REQUIRED)
        if missing == "messages":
            return ApiError(400, MESSAGES_REQUIRED)
    return None


@dataclass
class Chat:
    """A Messages request as the native chat request it becomes."""

    messages: list[dict[str, Any]]
    options: dict[str, Any]
    tools: list[dict[str, Any]]
    think: bool | None
    stream: bool
    images: list[str] = field(default_factory=list)


def _image(source: Any) -> str:
    """A base64 image source's data; Ollama refuses URLs and bad base64."""
    if not isinstance(source, dict):
        raise ApiError(400, "invalid image source")
    if source.get("type") != "base64":
        raise ApiError(
            400,
            f"invalid image source type: {source.get('type', '')}. "
            "Only base64 images are supported.",
        )
    data = str(source.get("data", ""))
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid base64 image data: illegal base64 data") from None
    return data


def _tool_result(content: Any) -> tuple[str, list[str]]:
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "image":
            images.append(_image(block.get("source")))
    return "".join(texts), images


def _message(role: str, content: Any) -> list[dict[str, Any]]:
    """One Messages message as native messages (convertMessage's order)."""
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    texts: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    thinking = ""
    for block in blocks or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "image":
            images.append(_image(block.get("source")))
        elif kind == "tool_use":
            if not block.get("id"):
                raise ApiError(400, "tool_use block missing required 'id' field")
            if not block.get("name"):
                raise ApiError(400, "tool_use block missing required 'name' field")
            arguments = block.get("input") if isinstance(block.get("input"), dict) else {}
            calls.append(
                {"id": block["id"], "function": {"name": block["name"], "arguments": arguments}}
            )
        elif kind == "tool_result":
            text, found = _tool_result(block.get("content"))
            result: dict[str, Any] = {"role": "tool", "content": text}
            if found:
                result["images"] = found
            result["tool_call_id"] = str(block.get("tool_use_id", ""))
            results.append(result)
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking = block["thinking"]
    role = role.lower()
    out: list[dict[str, Any]] = []
    if role == "user":
        out.extend(results)
    text = "".join(texts)
    if text or images or calls or thinking:
        native: dict[str, Any] = {"role": role, "content": text}
        if images:
            native["images"] = images
        if calls:
            native["tool_calls"] = calls
        if thinking:
            native["thinking"] = thinking
        out.append(native)
    if role != "user":
        out.extend(results)
    return out


def to_chat(body: dict[str, Any]) -> Chat:
    """FromMessagesRequest: system first, then each message's native messages."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, list):
        system = "".join(
            str(b.get("text", ""))
            for b in system
            if isinstance(b, dict) and b.get("type") == "text"
        )
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    for sent in body.get("messages") or []:
        messages.extend(_message(str(sent.get("role", "")), sent.get("content")))
    options: dict[str, Any] = {"num_predict": body["max_tokens"]}
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            options[name] = body[name]
    if body.get("stop_sequences"):
        options["stop"] = list(body["stop_sequences"])
    tools = [
        {
            "type": "function",
            "function": {
                "name": tool.get("name", ""),
                "description": tool.get("description", ""),
                "parameters": tool.get("input_schema") or {},
            },
        }
        for tool in body.get("tools") or []
    ]
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    think = True if kind == "enabled" else False if kind == "disabled" else None
    images = [i for m in messages for i in m.get("images", [])]
    return Chat(messages, options, tools, think, bool(body.get("stream")), images)


# -- the answer ----------------------------------------------------------------------


def stop_reason(done_reason: str | None, tool_calls: bool) -> str:
    """mapStopReason: a tool call is tool_use, stop end_turn, length max_tokens."""
    if tool_calls:
        return "tool_use"
    if done_reason == "stop":
        return "end_turn"
    if done_reason == "length":
        return "max_tokens"
    return "stop_sequence" if done_reason else ""


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


def tool_use(ident: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": ident, "name": name, "input": arguments}


def message(
    ident: str,
    model: str,
    *,
    thinking: str,
    text: str,
    calls: list[dict[str, Any]],
    reason: str,
    usage_now: dict[str, int],
) -> dict[str, Any]:
    """ToMessagesResponse: thinking, text, then tool_use blocks (each only when present)."""
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": thinking})
    if text:
        content.append({"type": "text", "text": text})
    content.extend(calls)
    answer: dict[str, Any] = {
        "id": ident,
        "type": MESSAGE,
        "role": "assistant",
        "model": model,
        "content": content,
    }
    if reason:
        answer["stop_reason"] = reason
    answer["usage"] = usage_now
    return answer


def event(data: dict[str, Any]) -> bytes:
    """One named SSE event: ``event: <type>`` then its JSON."""
    return framing.sse_named_event(str(data["type"]), data)


def stream_error(message_text: str) -> bytes:
    """The last event of a stream that failed after it started."""
    return event(error(500, message_text))


class StreamEvents:
    """StreamConverter: the events of one streamed message, piece by piece.

    ``message_start`` comes first; a block is started before its deltas and stopped
    before the next one starts; ``message_delta`` (stop reason, usage) and
    ``message_stop`` end the stream.
    """

    def __init__(self, ident: str, model: str) -> None:
        self.ident = ident
        self.model = model
        self.index = 0
        self.open: str | None = None  # the kind of the block now open
        self.tool_calls = 0

    def start(self, input_tokens: int) -> bytes:
        start = message(
            self.ident,
            self.model,
            thinking="",
            text="",
            calls=[],
            reason="",
            usage_now=usage(input_tokens, 0),
        )
        return event({"type": "message_start", "message": start})

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        self.open = None
        out = event({"type": "content_block_stop", "index": self.index})
        self.index += 1
        return out

    def _delta(self, kind: str, block: dict[str, Any], delta: dict[str, Any]) -> bytes:
        out = b""
        if self.open != kind:
            out += self._close()
            self.open = kind
            out += event(
                {"type": "content_block_start", "index": self.index, "content_block": block}
            )
        return out + event({"type": "content_block_delta", "index": self.index, "delta": delta})

    def thinking(self, text: str) -> bytes:
        block = {"type": "thinking", "thinking": ""}
        return self._delta("thinking", block, {"type": "thinking_delta", "thinking": text})

    def text(self, text: str) -> bytes:
        return self._delta(
            "text", {"type": "text", "text": ""}, {"type": "text_delta", "text": text}
        )

    def tool_call(self, ident: str, name: str, arguments: dict[str, Any]) -> bytes:
        """A whole tool call: its block started, its input as one JSON delta, stopped."""
        out = self._close()
        self.tool_calls += 1
        arguments_json = orjson.dumps(arguments).decode()
        out += self._delta(
            "tool_use",
            tool_use(ident, name, {}),
            {"type": "input_json_delta", "partial_json": arguments_json},
        )
        return out + self._close()

    def end(self, done_reason: str | None, input_tokens: int, output_tokens: int) -> bytes:
        out = self._close()
        reason = stop_reason(done_reason, self.tool_calls > 0)
        delta = {"stop_reason": reason} if reason else {}
        out += event(
            {"type": "message_delta", "delta": delta, "usage": usage(input_tokens, output_tokens)}
        )
        return out + event({"type": "message_stop"})


WIRE_STRINGS: tuple[str, ...] = (
    MAX_TOKENS_REQUIRED,
    "content_block_start",
    "content_block_delta",
    "input_json_delta",
    "message_stop",
)
