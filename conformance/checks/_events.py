"""Named Server-Sent Events (``event: <type>`` + ``data: <json>``), as the Anthropic
Messages and OpenAI Responses streams send them, each validated against the spec."""

from __future__ import annotations

import json
from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.http import Exchange
from ollama_harness.core.spec import SSE, load_spec


def named_events(exchange: Exchange, op_id: str) -> list[dict[str, Any]]:
    """Every event's data, in order; each names its type and matches its schema."""
    expect.status(exchange, 200)
    expect.media_type(exchange, SSE)
    spec = load_spec()
    blocks = [b for b in exchange.text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if not blocks:
        raise expect.fail("empty event stream", exchange)
    events: list[dict[str, Any]] = []
    for number, block in enumerate(blocks, 1):
        lines = [line for line in block.split("\n") if not line.startswith(":")]
        names = [line[6:].strip() for line in lines if line.startswith("event:")]
        data = [line[5:].lstrip(" ") for line in lines if line.startswith("data:")]
        if len(names) != 1 or not data:
            raise expect.fail(f"event {number} lacks one 'event:' and a 'data:' line", exchange)
        try:
            payload = json.loads("\n".join(data))
        except ValueError:
            raise expect.fail(f"event {number} data is not JSON", exchange) from None
        if not isinstance(payload, dict) or payload.get("type") != names[0]:
            raise expect.fail(
                f"event {number} is named {names[0]!r} but its data has type "
                f"{payload.get('type') if isinstance(payload, dict) else None!r}",
                exchange,
            )
        issues = spec.validate_stream_line(op_id, payload)
        if issues:
            raise expect.fail(
                f"event {number} ({names[0]}) breaks its schema: {issues[0]}", exchange
            )
        events.append(payload)
    return events
