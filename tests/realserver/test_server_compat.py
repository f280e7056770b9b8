"""``/v1/messages`` through the official ``anthropic`` SDK and ``/v1/responses``
through the ``openai`` SDK, against the reference server and the bundled model."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.realserver.conftest import MODEL, RunningServer

pytestmark = pytest.mark.reference

WEATHER: anthropic.types.ToolParam = {
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
# This SDK has no temperature or top_k arguments: a real model is made greedy in the body.
GREEDY = {"temperature": 0, "top_k": 1}
QUESTION = "What is the weather in Paris? Use the tool."


@pytest.fixture
def claude(server: RunningServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="ollama", max_retries=0, timeout=120)


@pytest.fixture
def sdk(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="ollama", max_retries=0, timeout=120)


def _has_tools(http: httpx.Client) -> bool:
    shown = http.post("/api/show", json={"model": MODEL}).json()
    return "tools" in shown.get("capabilities", [])


# -- /v1/messages ------------------------------------------------------------------------


def test_messages_create(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=MODEL,
        max_tokens=8,
        extra_body=GREEDY,
        messages=[{"role": "user", "content": "Say hello."}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert 0 < message.usage.output_tokens <= 8
    assert message.usage.input_tokens > 0


def test_messages_max_tokens_and_system(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=MODEL,
        max_tokens=3,
        extra_body=GREEDY,
        system="You are a storyteller.",
        messages=[{"role": "user", "content": "Write a long story about the sea."}],
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_messages_stream_equals_the_whole_answer(claude: anthropic.Anthropic) -> None:
    messages: list[anthropic.types.MessageParam] = [
        {"role": "user", "content": "Count from 1 to 5."}
    ]
    whole = claude.messages.create(model=MODEL, max_tokens=12, messages=messages, extra_body=GREEDY)
    with claude.messages.stream(
        model=MODEL, max_tokens=12, messages=messages, extra_body=GREEDY
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert whole.content[0].type == "text"
    assert text == whole.content[0].text
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens > 0


def test_messages_tool_use(claude: anthropic.Anthropic, http: httpx.Client) -> None:
    question: anthropic.types.MessageParam = {"role": "user", "content": QUESTION}
    if not _has_tools(http):
        with pytest.raises(anthropic.BadRequestError) as refused:
            claude.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER], messages=[question])
        assert "does not support tools" in str(refused.value)
        assert refused.value.body["type"] == "error"  # type: ignore[index]
        return
    first = claude.messages.create(
        model=MODEL, max_tokens=64, tools=[WEATHER], messages=[question], extra_body=GREEDY
    )
    uses = [b for b in first.content if b.type == "tool_use"]
    # The 135M model may answer in prose; a call it makes must be a well-formed one.
    assert first.stop_reason == ("tool_use" if uses else first.stop_reason)
    for use in uses:
        assert use.name == "get_weather" and isinstance(use.input, dict)
    # The round trip's second half does not depend on the model's choice: a tool_use
    # turn and its tool_result go through the template and give an answer.
    second = claude.messages.create(
        model=MODEL,
        max_tokens=16,
        extra_body=GREEDY,
        tools=[WEATHER],
        messages=[
            question,
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21 C"}
                ],
            },
        ],
    )
    assert second.stop_reason in ("end_turn", "max_tokens", "tool_use")
    assert second.content and second.usage.input_tokens > first.usage.input_tokens


def test_messages_errors_use_anthropics_envelope(
    claude: anthropic.Anthropic, http: httpx.Client
) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(
            model="nosuch", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    body = missing.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert str(body["request_id"]).startswith("req_")
    refused = http.post("/v1/messages", json={"model": MODEL, "messages": []})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens is required and must be positive",
    }
    broken = http.post("/v1/messages", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["type"] == "error"


# -- /v1/responses -------------------------------------------------------------------------


def test_responses_create(sdk: openai.OpenAI) -> None:
    result = sdk.responses.create(
        model=MODEL,
        input="Say hello.",
        instructions="Be terse.",
        max_output_tokens=8,
        temperature=0,
    )
    assert result.object == "response" and result.status == "completed"
    assert result.id.startswith("resp_")
    assert result.output_text
    assert result.usage is not None
    assert 0 < result.usage.output_tokens <= 8 and result.usage.input_tokens > 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens


def test_responses_stream_equals_the_whole_answer(sdk: openai.OpenAI) -> None:
    whole = sdk.responses.create(
        model=MODEL, input="Count to five.", max_output_tokens=10, temperature=0
    )
    stream = sdk.responses.create(
        model=MODEL, input="Count to five.", max_output_tokens=10, temperature=0, stream=True
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    numbers = [e.sequence_number for e in events]
    assert numbers == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text
    completed = events[-1].response  # type: ignore[union-attr]
    assert completed.output_text == whole.output_text
    assert completed.usage is not None and whole.usage is not None
    assert completed.usage.output_tokens == whole.usage.output_tokens


def test_responses_json_schema_format(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    result = sdk.responses.create(
        model=MODEL,
        input="Give a name as JSON.",
        max_output_tokens=40,
        temperature=0,
        text={"format": {"type": "json_schema", "name": "person", "schema": schema}},
    )
    assert result.text is not None and result.text.format is not None
    assert result.text.format.type == "json_schema"
    if result.usage is not None and result.usage.output_tokens < 40:
        assert isinstance(json.loads(result.output_text)["name"], str)


def test_responses_function_tool(sdk: openai.OpenAI, http: httpx.Client) -> None:
    tool: openai.types.responses.FunctionToolParam = {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": dict(WEATHER["input_schema"]),
        "strict": False,
    }
    if not _has_tools(http):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.responses.create(model=MODEL, input=QUESTION, tools=[tool], max_output_tokens=64)
        assert "does not support tools" in str(refused.value)
        return
    result = sdk.responses.create(
        model=MODEL, input=QUESTION, tools=[tool], max_output_tokens=64, temperature=0
    )
    for item in result.output:
        if item.type == "function_call":  # the 135M model may answer in prose instead
            assert item.name == "get_weather"
            assert isinstance(json.loads(item.arguments), dict)
    answer = sdk.responses.create(
        model=MODEL,
        tools=[tool],
        max_output_tokens=16,
        temperature=0,
        input=[
            {"role": "user", "content": QUESTION},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"location": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "Sunny, 21 C"},
        ],
    )
    assert answer.status == "completed" and answer.output_text


def test_responses_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.responses.create(model="nosuch", input="hi")
    body = missing.value.body
    assert isinstance(body, dict) and "not found" in str(body["message"])
