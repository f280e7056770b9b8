"""The Anthropic Messages API (``POST /v1/messages``): bodies, named events, order,
usage, stop reasons, tool use and Anthropic's error envelope.

Level full; select the area alone with ``-k anthropic`` (``--pytest '-k anthropic'``).
"""

from __future__ import annotations

from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.checks._events import named_events
from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.outcome import note
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target
from ollama_harness.core.spec import JSON, load_spec

OP = "anthropicMessages"
LEVEL = "full"
PATH = "/v1/messages"
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def _body(model: str, max_tokens: int = 12, **extra: Any) -> dict[str, Any]:
    # No seed in this API: temperature 0 and top_k 1 make a real model greedy.
    return {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "top_k": 1,
        "messages": [{"role": "user", "content": "Say hello in a short sentence."}],
        **extra,
    }


def _message(ex: Exchange) -> dict[str, Any]:
    body = expect.json_body(ex, OP)
    if body.get("type") != "message" or body.get("role") != "assistant":
        raise expect.fail("not an assistant message", ex)
    return dict(body)


def _text(blocks: list[dict[str, Any]]) -> str:
    return "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")


def _usage_agrees(body: dict[str, Any], max_tokens: int, ex: Exchange) -> None:
    usage = body.get("usage") or {}
    produced = [b for b in body.get("content", []) if b.get("type") in ("text", "thinking")]
    out = usage.get("output_tokens", -1)
    if not 0 <= out <= max_tokens:
        raise expect.fail(f"output_tokens {out}, max_tokens {max_tokens}", ex)
    if any(b.get("text") or b.get("thinking") for b in produced) and out == 0:
        raise expect.fail("content was generated but usage.output_tokens is 0", ex)
    if usage.get("input_tokens", 0) <= 0:
        raise expect.fail("usage.input_tokens is not positive for a non-empty prompt", ex)


@check("anthropic", OP, LEVEL)
def messages_create(t: Target) -> None:
    """/v1/messages: a valid message, its stop reason and usage agree with its content.

    Source: anthropic/anthropic.go ToMessagesResponse, mapStopReason. Required.
    """
    ex = t.client.post(PATH, _body(t.model_with("completion")))
    body = _message(ex)
    if not str(body.get("id", "")).startswith("msg_"):
        raise expect.fail(f"id {body.get('id')!r} does not start with msg_", ex)
    if body.get("stop_reason") not in ("end_turn", "max_tokens", "stop_sequence"):
        raise expect.fail(f"stop_reason {body.get('stop_reason')!r} for a text answer", ex)
    _usage_agrees(body, 12, ex)


def _stream_order(events: list[dict[str, Any]], ex: Exchange) -> dict[int, str]:
    """message_start first; each block started, then its deltas, then stopped; then
    message_delta and message_stop. Returns each block's kind by index."""
    kinds = [e["type"] for e in events if e["type"] != "ping"]
    if not kinds or kinds[0] != "message_start":
        raise expect.fail(f"the first event is {kinds[:1]}, not message_start", ex)
    if kinds[-2:] != ["message_delta", "message_stop"]:
        raise expect.fail(f"the stream ends with {kinds[-2:]}, not message_delta, message_stop", ex)
    blocks: dict[int, str] = {}
    open_index: int | None = None
    for event in events[1:-2]:
        kind = event["type"]
        index = event.get("index")
        if kind == "content_block_start":
            if open_index is not None or index != len(blocks):
                raise expect.fail(f"block {index} starts while {open_index} is open", ex)
            open_index = index
            blocks[index] = event["content_block"]["type"]
        elif kind in ("content_block_delta", "content_block_stop"):
            if index != open_index:
                raise expect.fail(f"{kind} for block {index}, the open one is {open_index}", ex)
            if kind == "content_block_stop":
                open_index = None
            else:
                block = blocks[index] if isinstance(index, int) else ""
                wanted = {"text": "text_delta", "thinking": "thinking_delta"}.get(
                    block, "input_json_delta"
                )
                if event["delta"]["type"] not in (wanted, "signature_delta"):
                    raise expect.fail(f"a {event['delta']['type']} in a {block} block", ex)
        elif kind != "ping":
            raise expect.fail(f"{kind} in the middle of the stream", ex)
    if open_index is not None:
        raise expect.fail(f"block {open_index} is never stopped", ex)
    return blocks


@check("anthropic", OP, LEVEL)
def messages_stream(t: Target) -> None:
    """/v1/messages streaming: every event valid and in order; the deltas' text and the
    usage equal the non-streamed answer's.

    Source: anthropic/anthropic.go StreamConverter.Process; middleware/anthropic.go
    writeSSE. Required.
    """
    body = _body(t.model_with("completion"))
    whole = _message(t.client.post(PATH, body))
    ex = t.client.post(PATH, {**body, "stream": True})
    events = named_events(ex, OP)
    _stream_order(events, ex)
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    if text != _text(whole["content"]):
        raise expect.fail(
            f"streamed text {text[:60]!r} differs from the answer {_text(whole['content'])[:60]!r}",
            ex,
        )
    final = next(e for e in events if e["type"] == "message_delta")
    if final["usage"].get("output_tokens") != whole["usage"]["output_tokens"]:
        raise expect.fail(
            f"streamed output_tokens {final['usage'].get('output_tokens')}, "
            f"whole answer {whole['usage']['output_tokens']}",
            ex,
        )
    if final["delta"].get("stop_reason") != whole.get("stop_reason"):
        raise expect.fail("streamed stop_reason differs from the answer's", ex)


@check("anthropic", OP, LEVEL)
def messages_max_tokens(t: Target) -> None:
    """/v1/messages: max_tokens bounds the answer and stop_reason says max_tokens.

    Source: anthropic/anthropic.go FromMessagesRequest (num_predict), mapStopReason
    ("length" -> "max_tokens"). Required.
    """
    body = _body(t.model_with("completion"), max_tokens=2)
    body["messages"] = [{"role": "user", "content": "Write a long story about the sea."}]
    ex = t.client.post(PATH, body)
    answer = _message(ex)
    if answer.get("stop_reason") != "max_tokens":
        raise expect.fail(f"stop_reason {answer.get('stop_reason')!r}, cut at 2 tokens", ex)
    _usage_agrees(answer, 2, ex)
    if answer["usage"]["output_tokens"] != 2:
        raise expect.fail(f"output_tokens {answer['usage']['output_tokens']}, cut at 2", ex)


@check("anthropic", OP, LEVEL)
def messages_tool_use_round_trip(t: Target) -> None:
    """/v1/messages tools: a tool_use block (stop_reason tool_use) and the tool_result
    sent back gives an answer.

    Whether a model calls the tool is the model's choice, not the server's (a small
    model may answer in prose, as the native ``chat_tools`` check allows): then the
    answer is noted and the second half runs with a fixed tool_use in the history.

    Source: anthropic/anthropic.go convertMessage (tool_use / tool_result),
    ToMessagesResponse. Required.
    """
    model = t.model_with("tools")
    question = {"role": "user", "content": "What is the weather in Paris? Use the tool."}
    body = _body(model, max_tokens=128, tools=[WEATHER], messages=[question])
    ex = t.client.post(PATH, body)
    answer = _message(ex)
    uses = [b for b in answer["content"] if b.get("type") == "tool_use"]
    if uses:
        if answer.get("stop_reason") != "tool_use":
            stop = answer.get("stop_reason")
            raise expect.fail(f"a tool_use block with stop_reason {stop!r}", ex)
        use = uses[0]
        if use.get("name") != "get_weather" or not isinstance(use.get("input"), dict):
            raise expect.fail(f"tool_use {use!r} does not call get_weather with an input", ex)
        said = answer["content"]
    else:
        note("the model answered in prose instead of using the tool; the tool_result leg ran")
        use = {"type": "tool_use", "id": "toolu_conformance", "name": "get_weather"}
        use["input"] = {"city": "Paris"}
        said = [use]
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "Sunny, 21 C"}
    follow = {
        **body,
        "messages": [
            question,
            {"role": "assistant", "content": said},
            {"role": "user", "content": [result]},
        ],
    }
    ex = t.client.post(PATH, follow)
    _message(ex)


def _anthropic_error(ex: Exchange, status: int, kind: str) -> dict[str, Any]:
    expect.status(ex, status)
    try:
        body = ex.json()
    except ValueError:
        raise expect.fail("error body is not JSON", ex) from None
    error = body.get("error") if isinstance(body, dict) else None
    if body.get("type") != "error" or not isinstance(error, dict):
        raise expect.fail('error body is not {"type": "error", "error": {...}}', ex)
    if error.get("type") != kind or not isinstance(error.get("message"), str):
        raise expect.fail(f"error type {error.get('type')!r}, expected {kind!r}", ex)
    issues = load_spec().validate_response(OP, status, body, JSON)
    if issues:
        raise expect.fail(f"error body breaks AnthropicError: {issues[0]}", ex)
    return dict(error)


@check("anthropic", OP, LEVEL)
def messages_errors(t: Target) -> None:
    """/v1/messages errors use Anthropic's envelope: unknown model 404 not_found_error,
    malformed body or missing max_tokens 400 invalid_request_error.

    Source: anthropic/anthropic.go NewError; middleware/anthropic.go
    AnthropicMessagesMiddleware, AnthropicWriter.writeError. Required.
    """
    _anthropic_error(
        t.client.post(PATH, _body("conformance-no-such-model")), 404, "not_found_error"
    )
    ex = t.client.request("POST", PATH, content=b"{", headers={"content-type": "application/json"})
    _anthropic_error(ex, 400, "invalid_request_error")
    body = _body(t.model_with("completion"))
    del body["max_tokens"]
    ex = t.client.post(PATH, body)
    error = _anthropic_error(ex, 400, "invalid_request_error")
    if error["message"] != "max_tokens is required and must be positive":
        raise expect.fail(f"message {error['message']!r} for a missing max_tokens", ex)
