"""The OpenAI Responses API (``POST /v1/responses``, non-stateful): bodies, numbered
named events and their order, usage, function calls and the ``/v1`` error envelope.

Level full; select the area alone with ``-k responses`` (``--pytest '-k responses'``).
"""

from __future__ import annotations

import json
from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.checks._events import named_events
from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.outcome import note
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target

OP = "openaiResponses"
LEVEL = "full"
PATH = "/v1/responses"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _body(model: str, limit: int = 12, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "input": "Say hello in a short sentence.",
        "max_output_tokens": limit,
        "temperature": 0,
        **extra,
    }


def _response(ex: Exchange) -> dict[str, Any]:
    body = expect.json_body(ex, OP)
    if body.get("object") != "response" or body.get("status") != "completed":
        raise expect.fail(
            f"object {body.get('object')!r} status {body.get('status')!r}, expected a "
            "completed response",
            ex,
        )
    return dict(body)


def _text(output: list[dict[str, Any]]) -> str:
    return "".join(
        str(part.get("text", ""))
        for item in output
        if item.get("type") == "message"
        for part in item.get("content", [])
    )


def _usage_agrees(usage: Any, limit: int, ex: Exchange) -> None:
    if not isinstance(usage, dict):
        raise expect.fail("no usage", ex)
    total = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
    if usage.get("total_tokens") != total:
        raise expect.fail(f"total_tokens {usage.get('total_tokens')} != {total}", ex)
    if not 0 < usage.get("output_tokens", 0) <= limit:
        raise expect.fail(f"output_tokens {usage.get('output_tokens')}, limit {limit}", ex)


@check("responses", OP, LEVEL)
def responses_create(t: Target) -> None:
    """/v1/responses: a completed response with one message; usage adds up and stays
    within max_output_tokens.

    Source: openai/responses.go ToResponse. Required.
    """
    ex = t.client.post(PATH, _body(t.model_with("completion")))
    body = _response(ex)
    if not str(body.get("id", "")).startswith("resp_"):
        raise expect.fail(f"id {body.get('id')!r} does not start with resp_", ex)
    if not _text(body["output"]):
        raise expect.fail("no output_text in the response", ex)
    if body.get("previous_response_id") is not None:
        raise expect.fail("previous_response_id is set by a non-stateful server", ex)
    _usage_agrees(body.get("usage"), 12, ex)


def _stream_order(events: list[dict[str, Any]], ex: Exchange) -> None:
    """Numbered 0..n-1; created, in_progress first, completed last; each item added
    before its deltas and done after them."""
    numbers = [e.get("sequence_number") for e in events]
    if numbers != list(range(len(events))):
        raise expect.fail(f"sequence numbers {numbers[:8]}... are not 0, 1, 2, ...", ex)
    kinds = [e["type"] for e in events]
    if kinds[:2] != ["response.created", "response.in_progress"]:
        raise expect.fail(f"the stream starts with {kinds[:2]}", ex)
    if kinds[-1] != "response.completed" or kinds.count("response.completed") != 1:
        raise expect.fail(f"the stream ends with {kinds[-1]!r}, not response.completed", ex)
    added: set[int] = set()
    done: set[int] = set()
    for event in events[2:-1]:
        index = event.get("output_index")
        if event["type"] == "response.output_item.added":
            if index in added or index != len(added):
                raise expect.fail(f"output item {index} added out of order", ex)
            added.add(index)
        elif index not in added or index in done:
            raise expect.fail(f"{event['type']} for output item {index} outside its item", ex)
        elif event["type"] == "response.output_item.done":
            done.add(index)
    if added != done:
        raise expect.fail(f"output items {sorted(added - done)} are never done", ex)


@check("responses", OP, LEVEL)
def responses_stream(t: Target) -> None:
    """/v1/responses streaming: every event valid, numbered and in order; the text
    deltas and the usage equal the non-streamed response's.

    Source: openai/responses.go ResponsesStreamConverter; middleware/openai.go
    ResponsesWriter.writeEvent. Required.
    """
    body = _body(t.model_with("completion"))
    whole = _response(t.client.post(PATH, body))
    ex = t.client.post(PATH, {**body, "stream": True})
    events = named_events(ex, OP)
    _stream_order(events, ex)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    if text != _text(whole["output"]):
        raise expect.fail(
            f"streamed text {text[:60]!r} differs from the response "
            f"{_text(whole['output'])[:60]!r}",
            ex,
        )
    dones = [e["text"] for e in events if e["type"] == "response.output_text.done"]
    if dones != [text]:
        raise expect.fail("response.output_text.done does not repeat the deltas' text", ex)
    completed = events[-1]["response"]
    if completed.get("usage", {}).get("output_tokens") != whole["usage"]["output_tokens"]:
        raise expect.fail("the completed event's usage differs from the response's", ex)
    if _text(completed.get("output", [])) != text:
        raise expect.fail("the completed event's output differs from the deltas", ex)


@check("responses", OP, LEVEL)
def responses_max_output_tokens(t: Target) -> None:
    """/v1/responses: max_output_tokens bounds the output (it is num_predict).

    Source: openai/responses.go FromResponsesRequest. Required.
    """
    body = _body(t.model_with("completion"), limit=2)
    body["input"] = "Write a long story about the sea."
    ex = t.client.post(PATH, body)
    answer = _response(ex)
    _usage_agrees(answer.get("usage"), 2, ex)
    if answer["usage"]["output_tokens"] != 2:
        raise expect.fail(f"output_tokens {answer['usage']['output_tokens']}, cut at 2", ex)


@check("responses", OP, LEVEL)
def responses_function_call_round_trip(t: Target) -> None:
    """/v1/responses tools: a function_call item with JSON arguments; its
    function_call_output sent back gives a message.

    Whether a model calls the function is the model's choice, not the server's (a
    small model may answer in prose, as the native ``chat_tools`` check allows): then
    the answer is noted and the second half runs with a fixed function_call.

    Source: openai/responses.go ToResponse (function_call items), FromResponsesRequest
    (function_call / function_call_output items). Required.
    """
    model = t.model_with("tools")
    question = {"role": "user", "content": "What is the weather in Paris? Use the tool."}
    body = _body(model, limit=128, tools=[WEATHER], input=[question])
    ex = t.client.post(PATH, body)
    answer = _response(ex)
    calls = [item for item in answer["output"] if item.get("type") == "function_call"]
    if calls:
        call = calls[0]
        try:
            arguments = json.loads(call.get("arguments", ""))
        except ValueError:
            raise expect.fail(f"arguments {call.get('arguments')!r} are not JSON", ex) from None
        if call.get("name") != "get_weather" or not isinstance(arguments, dict):
            raise expect.fail(f"function_call {call!r} does not call get_weather", ex)
    else:
        note("the model answered in prose instead of calling the function; the output leg ran")
        call = {"call_id": "call_conformance", "name": "get_weather"}
        call["arguments"] = '{"city": "Paris"}'
    items = [
        question,
        {
            "type": "function_call",
            "call_id": call["call_id"],
            "name": call["name"],
            "arguments": call["arguments"],
        },
        {"type": "function_call_output", "call_id": call["call_id"], "output": "Sunny, 21 C"},
    ]
    ex = t.client.post(PATH, {**body, "input": items})
    if not _text(_response(ex)["output"]):
        raise expect.fail("no message after the function's output", ex)


@check("responses", OP, LEVEL)
def responses_errors(t: Target) -> None:
    """/v1/responses errors use the /v1 envelope: unknown model 404, malformed body and
    an unknown input item type 400.

    Source: openai/openai.go NewError; middleware/openai.go ResponsesMiddleware.
    Required.
    """
    expect.openai_error_body(t.client.post(PATH, _body("conformance-no-such-model")), 404)
    ex = t.client.request("POST", PATH, content=b"{", headers={"content-type": "application/json"})
    expect.openai_error_body(ex, 400)
    body = _body(t.model_with("completion"), input=[{"type": "conformance_bogus_item"}])
    expect.openai_error_body(t.client.post(PATH, body), 400)
