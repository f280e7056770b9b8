"""The official ``anthropic`` SDK against the mock's ``/v1/messages``."""

from __future__ import annotations

import base64

import anthropic
import httpx
import orjson
import pytest

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

MODEL = "smollm2:135m"
THINKER = "qwen3:0.6b"  # completion, tools, thinking
VISION = "llava:latest"
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
WEATHER: anthropic.types.ToolParam = {
    "name": "get_weather",
    "description": "Get the current weather in a location",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.fixture
def client(ollama_mock: MockServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ollama_mock.url, api_key="ollama", max_retries=0)


def _events(response: httpx.Response) -> list[tuple[str, dict[str, object]]]:
    out = []
    name = ""
    for line in response.text.splitlines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            out.append((name, orjson.loads(line.removeprefix("data: "))))
    return out


def test_create(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Hello, how are you?"}]
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == len(message.content[0].text.split(" ")) or (
        message.usage.output_tokens > 0
    )


def test_stream_text_equals_the_whole_answer(client: anthropic.Anthropic) -> None:
    messages: list[anthropic.types.MessageParam] = [
        {"role": "user", "content": "Count from 1 to 10"}
    ]
    whole = client.messages.create(model=MODEL, max_tokens=1024, messages=messages)
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert whole.content[0].type == "text"
    assert text == whole.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


def test_max_tokens_cuts_the_answer(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "a long story"}]
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_tool_use_round_trip(client: anthropic.Anthropic) -> None:
    question: anthropic.types.MessageParam = {
        "role": "user",
        "content": "What's the weather in San Francisco?",
    }
    first = client.messages.create(
        model=MODEL, max_tokens=1024, tools=[WEATHER], messages=[question]
    )
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather"
    assert isinstance(uses[0].input, dict) and "location" in uses[0].input
    second = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny, 21 C"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text


def test_streamed_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=1024,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    use = final.content[0]
    assert use.type == "tool_use" and isinstance(use.input, dict) and "location" in use.input


def test_image_on_a_vision_model(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=VISION,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(PIXEL).decode(),
                        },
                    },
                    {"type": "text", "text": "What is in this image?"},
                ],
            }
        ],
    )
    assert message.content[0].type == "text" and message.content[0].text
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": base64.b64encode(PIXEL).decode(),
                            },
                        }
                    ],
                }
            ],
        )
    assert "does not support vision" in str(refused.value)


def test_thinking_on_a_thinking_model(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=THINKER,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
    ) as stream:
        final = stream.get_final_message()
    kinds = [b.type for b in final.content]
    assert kinds[0] == "thinking" and "text" in kinds
    # A model that cannot think is not refused: the middleware relaxes thinking.
    plain = client.messages.create(
        model=MODEL,
        max_tokens=64,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
    )
    assert [b.type for b in plain.content] == ["text"]


def test_errors_use_anthropics_envelope(
    client: anthropic.Anthropic, ollama_mock: MockServer
) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(
            model="nosuch", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model 'nosuch' not found"},
        "request_id": missing.value.body["request_id"],  # type: ignore[index]
    }
    with httpx.Client(base_url=ollama_mock.url) as http:
        for body, message in [
            (b"{", "unexpected EOF"),
            (b'{"model": "x", "messages": []}', "max_tokens is required and must be positive"),
            (b'{"max_tokens": 3, "messages": []}', "model is required"),
            (b'{"model": "x", "max_tokens": 3, "messages": []}', "messages is required"),
            (
                b'{"model": "x", "max_tokens": "3", "messages": []}',
                "json: cannot unmarshal string into Go struct field MessagesRequest.max_tokens"
                " of type int",
            ),
        ]:
            answer = http.post("/v1/messages", content=body)
            assert answer.status_code == 400, body
            envelope = answer.json()
            assert envelope["type"] == "error"
            assert envelope["error"] == {"type": "invalid_request_error", "message": message}


def test_stream_events_follow_the_spec(ollama_mock: MockServer, spec: Spec) -> None:
    body = {
        "model": THINKER,
        "max_tokens": 512,
        "stream": True,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather?"}],
    }
    with httpx.Client(base_url=ollama_mock.url) as http:
        first = http.post("/v1/messages", json=body)
        again = http.post("/v1/messages", json=body)
    assert first.content == again.content  # same request, same bytes
    events = _events(first)
    for name, data in events:
        assert data["type"] == name
        assert spec.validate_stream_line("anthropicMessages", data) == []
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "input_json_delta" in first.text and "thinking_delta" in first.text


def test_mid_stream_fault_is_an_error_event(ollama_mock: MockServer) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.Client(base_url=ollama_mock.url) as http:
        answer = http.post("/v1/messages", json=body, headers={"X-Mock-Fault": "error-after=2"})
    events = _events(answer)
    assert answer.status_code == 200
    assert events[-1][0] == "error" and events[-1][1]["type"] == "error"
    assert [n for n, _ in events].count("content_block_delta") == 2
