"""Reading one response: NDJSON and SSE lines in, timings and server figures out.

The recorders are pure (no sockets, no clock of their own): the caller reads a
complete line, stamps it with ``perf_counter()`` and feeds both in. That keeps the
timing rules of ``load-metrics.md`` in one testable place:

- the first *text* chunk (non-empty ``response`` / ``message.content`` /
  ``message.thinking`` / ``delta.content`` / ``text``) fixes TTFT; a chunk with only
  a role or empty content does not;
- gaps between consecutive text chunks are inter-chunk latencies, not ITL;
- output tokens come from the server's count (``eval_count`` on the native API,
  ``usage.completion_tokens`` on /v1, ``usage.output_tokens`` of Anthropic's
  ``message_delta`` and of the Responses API's ``response.completed``); counting
  chunks is the labelled fallback.

The Anthropic Messages and OpenAI Responses streams name their events; their text
chunks are the ``content_block_delta`` events (text, thinking or tool input) and the
``response.*.delta`` events.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Keys of the native final chunk copied onto the sample, by sample field name.
_SERVER_FIELDS = (
    ("eval_count", "eval_count"),
    ("eval_duration", "eval_duration_ns"),
    ("prompt_eval_count", "prompt_eval_count"),
    ("prompt_eval_duration", "prompt_eval_duration_ns"),
    ("total_duration", "total_duration_ns"),
    ("load_duration", "load_duration_ns"),
)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ResponseRecord:
    """What one response showed: when text arrived, how much, and what the server said."""

    __slots__ = (
        "chunks",
        "error",
        "error_kind",
        "finished",
        "first_text_at",
        "gaps_ms",
        "last_at",
        "last_text_at",
        "output_tokens",
        "prompt_tokens",
        "server",
        "token_source",
    )

    def __init__(self) -> None:
        self.first_text_at: float | None = None
        self.last_text_at: float | None = None
        self.last_at: float | None = None
        self.chunks = 0
        self.gaps_ms: list[float] = []
        self.output_tokens: int | None = None
        self.prompt_tokens: int | None = None
        self.token_source = "none"
        self.server: dict[str, int | None] = {}
        self.finished = False
        self.error_kind = ""
        self.error = ""

    def text_chunk(self, now: float) -> None:
        if self.first_text_at is None:
            self.first_text_at = now
        else:
            assert self.last_text_at is not None
            self.gaps_ms.append((now - self.last_text_at) * 1000.0)
        self.last_text_at = now
        self.chunks += 1

    def fail(self, kind: str, message: str, now: float) -> None:
        self.error_kind = kind
        self.error = message[:300]
        self.finished = True
        self.last_at = now

    def take_native_final(self, obj: dict[str, Any]) -> None:
        """The native API's figures, from a ``done: true`` chunk or a whole response."""
        for key, name in _SERVER_FIELDS:
            self.server[name] = _int_or_none(obj.get(key))
        eval_count = self.server.get("eval_count")
        if eval_count is not None:
            self.output_tokens = eval_count
            self.token_source = "eval_count"
        self.prompt_tokens = self.server.get("prompt_eval_count")

    def take_usage(self, usage: object) -> None:
        """``usage`` of /v1 (completion/prompt_tokens) or of the Anthropic and Responses
        APIs (output/input_tokens)."""
        if not isinstance(usage, dict):
            return
        completion = _int_or_none(usage.get("completion_tokens", usage.get("output_tokens")))
        if completion is not None:
            self.output_tokens = completion
            self.token_source = "usage"
        self.prompt_tokens = _int_or_none(usage.get("prompt_tokens", usage.get("input_tokens")))

    def settle_tokens(self) -> None:
        """No server count arrived: fall back to counting text chunks, and say so."""
        if self.output_tokens is None and self.chunks:
            self.output_tokens = self.chunks
            self.token_source = "chunks"


def _error_message(value: object) -> str:
    if isinstance(value, dict):  # OpenAI shape: {"error": {"message": ...}}
        return str(value.get("message", value))
    return str(value)


def _native_text(obj: dict[str, Any]) -> bool:
    response = obj.get("response")
    if isinstance(response, str) and response:
        return True
    message = obj.get("message")
    if isinstance(message, dict) and (
        message.get("content") or message.get("thinking") or message.get("tool_calls")
    ):
        return True
    thinking = obj.get("thinking")
    return isinstance(thinking, str) and bool(thinking)


def _openai_text(obj: dict[str, Any]) -> bool:
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        if choice.get("text"):
            return True
        delta = choice.get("delta")
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("reasoning") or delta.get("tool_calls")
        ):
            return True
    return False


def _stream_object(record: ResponseRecord, payload: bytes, now: float) -> dict[str, Any] | None:
    """The JSON object one stream line carries; None (and the request failed with
    its kind) for a line that is not JSON, not an object, or an ``{"error"}`` line."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        record.fail("bad_line", f"not JSON: {payload[:80]!r}", now)
        return None
    if not isinstance(obj, dict):
        record.fail("bad_line", f"not a JSON object: {payload[:80]!r}", now)
        return None
    if "error" in obj:
        record.fail("stream_error", _error_message(obj["error"]), now)
        return None
    return obj


def feed_ndjson(record: ResponseRecord, line: bytes, now: float) -> None:
    """One complete NDJSON line of /api/generate or /api/chat."""
    line = line.strip()
    if not line:
        return
    record.last_at = now
    obj = _stream_object(record, line, now)
    if obj is None:
        return
    if _native_text(obj):
        record.text_chunk(now)
    if obj.get("done") is True:
        record.take_native_final(obj)
        record.settle_tokens()
        record.finished = True


def feed_sse(record: ResponseRecord, line: bytes, now: float) -> None:
    """One complete line of a /v1 Server-Sent Events stream."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return  # blank separators, comments (":"), "event:" and "id:" fields
    payload = line[5:].strip()
    record.last_at = now
    if payload == b"[DONE]":
        record.settle_tokens()
        record.finished = True
        return
    obj = _stream_object(record, payload, now)
    if obj is None:
        return
    if _openai_text(obj):
        record.text_chunk(now)
    if obj.get("usage"):
        record.take_usage(obj["usage"])


_RESPONSES_TEXT = (
    "response.output_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
)


def _named_event(record: ResponseRecord, line: bytes, now: float) -> dict[str, Any] | None:
    """The data of a named-event stream's ``data:`` line; None for other lines."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return None  # "event:" names repeat the data's type; blanks separate events
    record.last_at = now
    return _stream_object(record, line[5:].strip(), now)


def feed_anthropic(record: ResponseRecord, line: bytes, now: float) -> None:
    """One line of a /v1/messages stream; ``message_stop`` ends it."""
    obj = _named_event(record, line, now)
    if obj is None:
        return
    kind = obj.get("type")
    if kind == "content_block_delta":
        delta = obj.get("delta")
        if isinstance(delta, dict) and (
            delta.get("text") or delta.get("thinking") or delta.get("partial_json")
        ):
            record.text_chunk(now)
    elif kind == "message_delta":
        record.take_usage(obj.get("usage"))
    elif kind == "message_stop":
        record.settle_tokens()
        record.finished = True


def feed_responses(record: ResponseRecord, line: bytes, now: float) -> None:
    """One line of a /v1/responses stream; ``response.completed`` ends it."""
    obj = _named_event(record, line, now)
    if obj is None:
        return
    kind = obj.get("type")
    if kind in _RESPONSES_TEXT and obj.get("delta"):
        record.text_chunk(now)
    elif kind == "error":
        record.fail("stream_error", str(obj.get("message", obj)), now)
    elif kind in ("response.completed", "response.failed"):
        response = obj.get("response")
        if isinstance(response, dict):
            record.take_usage(response.get("usage"))
        if kind == "response.failed":
            record.fail("stream_error", "response.failed", now)
            return
        record.settle_tokens()
        record.finished = True


def read_whole(record: ResponseRecord, body: bytes, api: str, kind: str, now: float) -> None:
    """A non-streamed response (``stream: false``, embeddings): one JSON document."""
    record.last_at = now
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        record.fail("bad_body", f"not JSON: {body[:80]!r}", now)
        return
    if not isinstance(obj, dict):
        record.fail("bad_body", f"not a JSON object: {body[:80]!r}", now)
        return
    if "error" in obj:
        record.fail("stream_error", _error_message(obj["error"]), now)
        return
    record.finished = True
    if kind == "embed":
        vectors = obj.get("embeddings") if api == "native" else obj.get("data")
        if not isinstance(vectors, list):
            record.fail("bad_body", "embedding response without vectors", now)
            return
        if api == "native":
            record.take_native_final(obj)
            record.output_tokens = None
            record.token_source = "none"
        else:
            usage = obj.get("usage")
            if isinstance(usage, dict):
                record.prompt_tokens = _int_or_none(usage.get("prompt_tokens"))
        return
    if api == "native":
        record.take_native_final(obj)
        if _native_text(obj):
            record.chunks = 1
    elif api in ("anthropic", "responses"):
        record.take_usage(obj.get("usage"))
        if obj.get("content") or obj.get("output"):
            record.chunks = 1
    else:
        record.take_usage(obj.get("usage"))
        choices = obj.get("choices")
        if isinstance(choices, list) and choices:
            first = choices[0] if isinstance(choices[0], dict) else {}
            message = first.get("message")
            if first.get("text") or (isinstance(message, dict) and message.get("content")):
                record.chunks = 1
    # no chunk counting here: one body says nothing about how many tokens it held
