"""The ``openai`` SDK's Responses API (``client.responses``) against the mock."""

from __future__ import annotations

import json

import httpx
import openai
import orjson
import pytest
from openai.types.responses import ResponseFunctionCallArgumentsDoneEvent

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

MODEL = "smollm2:135m"
THINKER = "qwen3:0.6b"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(ollama_mock: MockServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{ollama_mock.url}/v1/", api_key="ollama", max_retries=0)


def _events(response: httpx.Response) -> list[tuple[str, dict[str, object]]]:
    out = []
    name = ""
    for line in response.text.splitlines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            out.append((name, orjson.loads(line.removeprefix("data: "))))
    return out


def test_create(client: openai.OpenAI) -> None:
    result = client.responses.create(model=MODEL, input="Write a short poem about the color blue")
    assert result.id.startswith("resp_") and result.status == "completed"
    assert result.output_text
    assert result.usage is not None
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert result.previous_response_id is None


def test_stream_text_equals_the_whole_answer(client: openai.OpenAI) -> None:
    whole = client.responses.create(model=MODEL, input="Count to five", instructions="Be terse")
    stream = client.responses.create(
        model=MODEL, input="Count to five", instructions="Be terse", stream=True
    )
    events = list(stream)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1]
    assert last.type == "response.completed"
    completed = last.response
    assert completed.output_text == whole.output_text
    assert completed.usage is not None and whole.usage is not None
    assert completed.usage.output_tokens == whole.usage.output_tokens


def test_max_output_tokens(client: openai.OpenAI) -> None:
    result = client.responses.create(model=MODEL, input="a long story", max_output_tokens=5)
    assert result.usage is not None and result.usage.output_tokens == 5
    assert result.status == "completed"  # Ollama never answers "incomplete"


def test_function_tool_round_trip(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER])  # type: ignore[list-item]
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert "city" in json.loads(calls[0].arguments)
    second = client.responses.create(
        model=MODEL,
        tools=[WEATHER],  # type: ignore[list-item]
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": calls[0].call_id,
                "name": calls[0].name,
                "arguments": calls[0].arguments,
            },
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "Sunny"},
        ],
    )
    assert second.output_text


def test_streamed_function_call(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model=MODEL,
        input="Weather in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    events = list(stream)
    done = [e.arguments for e in events if isinstance(e, ResponseFunctionCallArgumentsDoneEvent)]
    assert len(done) == 1 and "city" in json.loads(done[0])


def test_reasoning_on_a_thinking_model(client: openai.OpenAI) -> None:
    result = client.responses.create(model=THINKER, input="Why?", reasoning={"effort": "low"})
    assert [item.type for item in result.output] == ["reasoning", "message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=MODEL, input="Why?", reasoning={"effort": "low"})
    assert "does not support thinking" in str(refused.value)


def test_errors(client: openai.OpenAI, ollama_mock: MockServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="nosuch", input="hi")
    assert missing.value.body == {
        "message": "model 'nosuch' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with httpx.Client(base_url=ollama_mock.url) as http:
        bad = http.post("/v1/responses", json={"model": MODEL, "input": [{"type": "bogus"}]})
        stateful = http.post(
            "/v1/responses",
            json={"model": MODEL, "input": "hi", "previous_response_id": "resp_1"},
        )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "input[0]: unknown input item type: 'bogus'"
    # Ollama's request type has no previous_response_id: it is ignored, not refused.
    assert stateful.status_code == 200 and stateful.json()["previous_response_id"] is None


def test_stream_events_follow_the_spec(ollama_mock: MockServer, spec: Spec) -> None:
    body = {"model": THINKER, "input": "Weather?", "stream": True, "tools": [WEATHER]}
    with httpx.Client(base_url=ollama_mock.url) as http:
        first = http.post("/v1/responses", json=body)
        again = http.post("/v1/responses", json=body)
        plain = http.post("/v1/responses", json={**body, "tools": []})
    assert first.content == again.content
    for answer in (first, plain):
        for name, data in _events(answer):
            assert data["type"] == name
            assert spec.validate_stream_line("openaiResponses", data) == []


def test_mid_stream_fault_is_an_error_event(ollama_mock: MockServer) -> None:
    body = {"model": MODEL, "input": "hi", "stream": True}
    with httpx.Client(base_url=ollama_mock.url) as http:
        answer = http.post("/v1/responses", json=body, headers={"X-Mock-Fault": "error-after=2"})
    events = _events(answer)
    assert events[-1][0] == "error"
    assert [n for n, _ in events].count("response.output_text.delta") == 2
