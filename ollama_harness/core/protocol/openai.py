"""The ``/v1`` (OpenAI-compatible) surface as a translation of the native one.

Ollama's ``openai`` middleware turns a ``/v1`` request into a native one and the
native answer back into OpenAI's objects. Both servers do the same with these
functions: the request side (options, response format, message content, reasoning
effort, validation wording), the answer side (chunks, whole answers, finish reasons,
usage, model and embedding objects) and the error envelope.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from ollama_harness.core.errors import ApiError, openai_error
from ollama_harness.core.names import DEFAULT_HOST, ModelName
from ollama_harness.core.protocol import framing, messages
from ollama_harness.core.spec import SpecIssue

FINGERPRINT = "fp_ollama"
CHAT_COMPLETION = "chat.completion"
CHAT_CHUNK = "chat.completion.chunk"
TEXT_COMPLETION = "text_completion"

# OpenAI sampling fields that map one to one onto an Ollama option.
_SAME_OPTIONS = ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty")


# -- the request ---------------------------------------------------------------------


def options(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI sampling fields as Ollama options (the middleware's mapping)."""
    out: dict[str, Any] = {}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        out["num_predict"] = limit
    for name in _SAME_OPTIONS:
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop"] = [stop]
    elif isinstance(stop, list):
        out["stop"] = stop
    return out


def response_format(body: dict[str, Any]) -> Any:
    """``response_format`` as the native ``format``: "json", a JSON schema or None."""
    wanted = body.get("response_format") or {}
    kind = wanted.get("type") if isinstance(wanted, dict) else None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (wanted.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else "json"
    return None


def reasoning_effort(body: dict[str, Any]) -> Any:
    """``reasoning_effort`` or ``reasoning.effort``; None when the request names neither."""
    reasoning = body.get("reasoning")
    nested = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return body.get("reasoning_effort") or nested


def think_requested(effort: Any) -> Any:
    """What an effort asks of a model, for the capability check: None for "none"."""
    return None if effort in (None, "", "none") else effort


def content_parts(content: Any) -> tuple[str, list[str]]:
    """A message's text (its text parts joined) and its images (data URLs as base64)."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        return "", []
    texts, images = [], []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = str(image.get("url", "") if isinstance(image, dict) else image or "")
            images.append(url.split(",", 1)[1] if url.startswith("data:") else url)
    return "\n".join(texts), images


def include_usage(body: dict[str, Any]) -> bool:
    stream_options = body.get("stream_options")
    return isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def translate_issue(body: Any, issue: SpecIssue) -> ApiError | None:
    """The middleware's own words for a refused ``/v1`` body; None: the native wording."""
    field = issue.path.removeprefix("$.").split(".")[0].split("[")[0]
    value = body.get(field) if isinstance(body, dict) else None
    if field == "model" and issue.rule in ("pattern", "maxLength", "minLength"):
        return ApiError(400, messages.INVALID_MODEL_NAME)
    if field == "stop":
        return ApiError(400, f"invalid type for 'stop' field: {_go_type(value)}")
    if field == "messages" and issue.rule == "minItems":
        return ApiError(400, messages.MESSAGES_TOO_SHORT)
    if field == "encoding_format":
        supported = "Supported values: ['float', 'base64']."
        return ApiError(400, f"Invalid value for 'encoding_format' = {value}. {supported}")
    if field == "input":
        return ApiError(400, messages.INVALID_INPUT)
    return None


# -- the answer ----------------------------------------------------------------------


def finish_reason(done_reason: str | None, tool_calls: bool = False) -> str:
    """``length`` stays, a tool call made is ``tool_calls``, anything else ``stop``."""
    if tool_calls:
        return "tool_calls"
    return "length" if done_reason == "length" else "stop"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def envelope(kind: str, ident: str, created: int, model: str) -> dict[str, Any]:
    """The fields every completion object and chunk of one answer share."""
    return {
        "id": ident,
        "object": kind,
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }


def tool_call(index: int, ident: str, name: str, arguments: str) -> dict[str, Any]:
    """One OpenAI tool call; ``arguments`` is JSON text, as OpenAI sends it."""
    return {
        "id": ident,
        "index": index,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def chat_chunk(
    base: dict[str, Any], delta: dict[str, Any], logprobs: list[Any] | None = None
) -> bytes:
    """One streamed piece of a chat answer, as an SSE event."""
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return framing.sse_event({**base, "choices": [choice]})


def text_chunk(base: dict[str, Any], text: str, finish: str | None = None) -> bytes:
    choice = {"text": text, "index": 0, "finish_reason": finish}
    return framing.sse_event({**base, "choices": [choice]})


def stream_end(
    base: dict[str, Any], finish: str, usage_now: dict[str, int] | None, *, chat: bool
) -> bytes:
    """The finish chunk (an empty delta on chat), the usage chunk when asked, ``[DONE]``."""
    if chat:
        out = framing.sse_event(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        )
    else:
        out = text_chunk(base, "", finish)
    if usage_now is not None:
        out += framing.sse_event({**base, "choices": [], "usage": usage_now})
    return out + framing.SSE_DONE


def chat_completion(
    base: dict[str, Any],
    message: dict[str, Any],
    finish: str,
    usage_now: dict[str, int],
    logprobs: list[Any] | None = None,
) -> dict[str, Any]:
    """A whole chat answer (``base`` built with :data:`CHAT_COMPLETION`)."""
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {**base, "choices": [choice], "usage": usage_now}


def text_completion(
    base: dict[str, Any], text: str, finish: str, usage_now: dict[str, int]
) -> dict[str, Any]:
    choice = {"text": text, "index": 0, "finish_reason": finish}
    return {**base, "choices": [choice], "usage": usage_now}


def stream_error(message: str) -> bytes:
    """The last event of a ``/v1`` stream that failed after it started."""
    return framing.sse_event(openai_error(500, message))


def embedding_list(
    model: str, vectors: Sequence[Sequence[float]], tokens: int, encoding: Any
) -> dict[str, Any]:
    """``/v1/embeddings``' answer; ``encoding_format: base64`` packs little-endian floats."""
    data = []
    for index, vector in enumerate(vectors):
        value: Any = list(vector)
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "embedding": value, "index": index})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def model_object(name: ModelName, created: int) -> dict[str, Any]:
    """A ``/v1/models`` entry: owned by its namespace, or its host when not Ollama's."""
    owner = name.namespace if name.host == DEFAULT_HOST else name.host
    return {"id": name.display, "object": "model", "created": created, "owned_by": owner}


WIRE_STRINGS: tuple[str, ...] = (
    FINGERPRINT,
    CHAT_CHUNK,
    TEXT_COMPLETION,
    "invalid type for 'stop' field",
    "Supported values: ['float', 'base64']",
)
