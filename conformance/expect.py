"""Expectations shared by the checks: status, content type, schema, framing.

Each helper raises :class:`CheckFailed` quoting the offending exchange, so a
check reads as a list of expectations and every failure says what was seen.
Schemas come from the spec through :mod:`ollama_harness.core.spec`; nothing here
restates a schema.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.outcome import CheckFailed, ServerUnreachable, defer, note
from ollama_harness.core.spec import JSON, NDJSON, SSE, load_spec

T = TypeVar("T")
#: Expected statuses or messages: one value, or documented variants, each with
#: where it comes from (the first is the preferred one; seeing another is noted).
Variants = int | str | Mapping[Any, str] | tuple[Any, ...]

# RFC 3339 date-time: what Go's time.Time marshals to (fraction optional, zone required).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def fail(reason: str, exchange: Exchange | None = None, excerpt: str = "") -> CheckFailed:
    """A failure quoting ``exchange``; an error answer is its own root cause."""
    cause = exchange.cause() if exchange is not None and exchange.status >= 400 else ""
    return CheckFailed(reason, excerpt or (exchange.excerpt() if exchange else ""), cause)


def _variants(expected: Variants) -> dict[Any, str]:
    if isinstance(expected, Mapping):
        return dict(expected)
    if isinstance(expected, tuple):
        return dict.fromkeys(expected, "")
    return {expected: ""}


def _seen(exchange: Exchange, value: Any, variants: dict[Any, str]) -> None:
    """Note which documented variant the server showed, when it is not the first."""
    label = variants.get(value, "")
    if label and value != next(iter(variants)):
        note(f"{exchange.method} {exchange.path.split('?')[0]}: {value!r} ({label})")


def status(exchange: Exchange, *expected: int | Mapping[int, str] | tuple[int, ...]) -> None:
    """The status is one of ``expected`` (plain ints, or a mapping status -> variant)."""
    variants: dict[Any, str] = {}
    for item in expected:
        variants.update(_variants(item))
    if exchange.status not in variants:
        want = " or ".join(str(s) for s in variants)
        raise fail(f"status {exchange.status}, expected {want}", exchange)
    _seen(exchange, exchange.status, variants)


def each(what: str, variants: Iterable[T], test: Callable[[T], None]) -> None:
    """Run ``test`` on every variant of a table and report every one that fails.

    "3 of 7 malformed bodies: ..." instead of the first one only, so one root
    cause cannot hide the others. A server that stops answering ends it at once.
    """
    failures: list[tuple[T, CheckFailed]] = []
    count = 0
    for variant in variants:
        count += 1
        try:
            test(variant)
        except ServerUnreachable:
            raise
        except CheckFailed as exc:
            failures.append((variant, exc))
    if not failures:
        return
    shown = "; ".join(f"{_short(v)}: {exc.reason}" for v, exc in failures[:3])
    more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
    causes = {exc.cause for _, exc in failures}
    raise CheckFailed(
        f"{len(failures)} of {count} {what}: {shown}{more}",
        "\n\n".join(f"[{_short(v)}] {exc.reason}\n{exc.excerpt}" for v, exc in failures),
        causes.pop() if len(causes) == 1 else "",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def media_type(exchange: Exchange, expected: str) -> None:
    if exchange.media_type != expected:
        raise fail(
            f"content type {exchange.media_type or '(none)'!r}, expected {expected!r}", exchange
        )


def _schema_issues(
    exchange: Exchange, op_id: str, body: Any, *, ctype: str, what: str, status_code: int
) -> None:
    try:
        issues = load_spec().validate_response(op_id, status_code, body, ctype)
    except KeyError as exc:  # the spec declares no such response: that is the finding
        raise fail(f"{what}: {exc.args[0]}", exchange) from None
    if issues:
        raise fail(f"{what} does not match the spec: {issues[0]}", exchange)


def json_body(exchange: Exchange, op_id: str, expected_status: int = 200) -> Any:
    """A non-streamed answer: status, ``application/json``, parses, matches the schema."""
    status(exchange, expected_status)
    media_type(exchange, JSON)
    try:
        body = exchange.json()
    except ValueError as exc:
        raise fail(f"body is not JSON ({exc})", exchange) from None
    _schema_issues(exchange, op_id, body, ctype=JSON, what="body", status_code=expected_status)
    return body


def ndjson_lines(
    exchange: Exchange, op_id: str, *, final_key: str = "done", allow_error: bool = False
) -> list[Any]:
    """A native stream: one compact JSON object per line, each valid, one final line last.

    ``final_key`` names how the last line is recognised: ``done`` (generate, chat)
    or ``status`` (pull, push, create end with ``"status": "success"``). With
    ``allow_error`` a stream may instead end with one ``{"error": ...}`` line (an
    error after the first byte), which is then the last line returned.
    """
    status(exchange, 200)
    media_type(exchange, NDJSON)
    text = exchange.text
    if not text:
        raise fail("empty stream", exchange)
    if not text.endswith("\n"):
        raise fail("the last stream line is not terminated by a newline", exchange)
    spec = load_spec()
    lines: list[Any] = []
    raw_lines = text[:-1].split("\n")
    for number, raw in enumerate(raw_lines, 1):
        try:
            line = json.loads(raw)
        except ValueError:
            raise fail(
                f"stream line {number} is not one JSON object (NDJSON needs one compact "
                "object per line)",
                exchange,
                excerpt=f"line {number}: {raw[:200]!r}\n{exchange.excerpt()}",
            ) from None
        if not isinstance(line, dict):
            raise fail(f"stream line {number} is {type(line).__name__}, not an object", exchange)
        if "error" in line:
            if not allow_error:
                raise fail(f"the stream carries an error line: {line['error']!r}", exchange)
            if number != len(raw_lines):
                raise fail(f"stream line {number} is an error but more lines follow", exchange)
            if not isinstance(line["error"], str):
                raise fail('a mid-stream error line is not {"error": "<message>"}', exchange)
            lines.append(line)
            return lines
        issues = spec.validate_stream_line(op_id, line)
        if issues:
            raise fail(
                f"stream line {number} does not match the spec: {issues[0]}",
                exchange,
                excerpt=f"line {number}: {raw[:300]}\n{exchange.excerpt()}",
            )
        lines.append(line)
    if final_key == "done":
        finals = [i for i, line in enumerate(lines) if line.get("done") is True]
        if not finals:
            raise fail("the stream has no final line (done: true)", exchange)
        if finals != [len(lines) - 1]:
            raise fail(
                f"done: true on line {finals[0] + 1} of {len(lines)}; it must be the last "
                "line and appear once",
                exchange,
            )
    elif lines[-1].get("status") != "success":
        raise fail(f"the stream does not end with status 'success': {lines[-1]}", exchange)
    return lines


def sse_chunks(exchange: Exchange, op_id: str) -> list[Any]:
    """A ``/v1`` stream: ``data: {...}`` events separated by blank lines, ending ``[DONE]``."""
    status(exchange, 200)
    media_type(exchange, SSE)
    spec = load_spec()
    events = [e for e in exchange.text.replace("\r\n", "\n").split("\n\n") if e.strip()]
    if not events:
        raise fail("empty event stream", exchange)
    payloads: list[str] = []
    for event in events:
        data = [line for line in event.split("\n") if not line.startswith(":")]
        if not data or not all(line.startswith("data:") for line in data):
            raise fail(f"an event without 'data:' framing: {event[:120]!r}", exchange)
        payloads.append("\n".join(line[5:].lstrip(" ") for line in data))
    if payloads[-1] != "[DONE]":
        raise fail("the event stream does not end with 'data: [DONE]'", exchange)
    if "[DONE]" in payloads[:-1]:
        raise fail("'data: [DONE]' appears before the end of the stream", exchange)
    chunks: list[Any] = []
    for number, payload in enumerate(payloads[:-1], 1):
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise fail(f"event {number} is not JSON: {payload[:120]!r}", exchange) from None
        issues = spec.validate_stream_line(op_id, chunk)
        if issues:
            raise fail(f"event {number} does not match the spec: {issues[0]}", exchange)
        chunks.append(chunk)
    return chunks


def error_body(
    exchange: Exchange,
    op_id: str | None,
    expected_status: int | Mapping[int, str] | tuple[int, ...],
    message: str | Mapping[str, str] | tuple[str, ...] | None = None,
) -> str:
    """A refused request: the status, ``{"error": "..."}`` as JSON, and Ollama's words.

    Status and shape are required: a failure raises. The exact words are a
    recommendation: a difference is deferred (reported as a recommended failure
    of the check once it ends), so it never hides a wrong status elsewhere.
    """
    status(exchange, expected_status)
    media_type(exchange, JSON)
    try:
        body = exchange.json()
    except ValueError:
        raise fail("error body is not JSON", exchange) from None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        raise fail('error body is not {"error": "<message>"}', exchange)
    if op_id is not None and str(exchange.status) in load_spec().operation(op_id).statuses:
        _schema_issues(
            exchange, op_id, body, ctype=JSON, what="error body", status_code=exchange.status
        )
    if message is not None:
        words = _variants(message)
        if body["error"] in words:
            _seen(exchange, body["error"], words)
        else:
            want = " or ".join(repr(m) for m in words)
            defer(fail(f"error message {body['error']!r}, expected {want}", exchange))
    return str(body["error"])


def openai_error_body(exchange: Exchange, expected_status: int) -> dict[str, Any]:
    """The OpenAI error envelope with the type Ollama's middleware gives for the status."""
    status(exchange, expected_status)
    media_type(exchange, JSON)
    try:
        body = exchange.json()
    except ValueError:
        raise fail("error body is not JSON", exchange) from None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        raise fail('error body is not {"error": {"message": ..., "type": ...}}', exchange)
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(expected_status, "api_error")
    if error.get("type") != kind:
        raise fail(f"error type {error.get('type')!r}, expected {kind!r}", exchange)
    return error


def rfc3339(value: Any, where: str, exchange: Exchange) -> None:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise fail(f"{where} {value!r} is not an RFC 3339 date-time", exchange)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        # Python < 3.11 rejects 9-digit fractions; 3.11 parses them, so this is real.
        raise fail(f"{where} {value!r} is not a valid date-time", exchange) from None


def l2_norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))
