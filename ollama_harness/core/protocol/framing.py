"""How answers are framed: NDJSON lines for the native API, SSE events for ``/v1``.

A streamed native answer is one JSON object per line; an error after the status
line went out becomes the last line, ``{"error": "..."}``. A ``/v1`` stream is
``data: <json>`` events ended by ``data: [DONE]``; the Anthropic Messages and OpenAI
Responses streams name each event (``event: <type>``) and end with their own last
event.
"""

from __future__ import annotations

from typing import Any

import orjson

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
SSE_TYPE = "text/event-stream"
TEXT_TYPE = "text/plain; charset=utf-8"

SSE_DONE = b"data: [DONE]\n\n"


def ndjson_line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


def error_line(message: str) -> bytes:
    """The last line of a native stream that failed after it started."""
    return orjson.dumps({"error": message}) + b"\n"


def sse_event(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_named_event(name: str, obj: Any) -> bytes:
    """An SSE event with an ``event:`` line, as the Messages and Responses streams send."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


WIRE_STRINGS: tuple[str, ...] = ("[DONE]", NDJSON_TYPE, SSE_TYPE)
