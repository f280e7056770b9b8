"""The ``openai`` SDK against the mock's ``/v1`` routes."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ollama_harness.mockserver.testing import MockServer

MODEL = "smollm2:135m"


@pytest.fixture
def client(ollama_mock: MockServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{ollama_mock.url}/v1", api_key="ollama", max_retries=0)


def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi"}], seed=3
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_stream_with_usage_matches_whole(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Count to five"}]
    whole = client.chat.completions.create(model=MODEL, messages=messages)
    stream = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_max_tokens_and_tools(client: openai.OpenAI) -> None:
    short = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "long story"}], max_tokens=2
    )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 2
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9}},
                    "required": ["n"],
                },
            },
        }
    ]
    called = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "look it up"}],
        tools=tools,  # type: ignore[arg-type]
    )
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert called.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert 1 <= json.loads(call.function.arguments)["n"] <= 9  # type: ignore[union-attr]


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema: dict[str, object] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
    }
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "a person"}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    value = json.loads(reply.choices[0].message.content or "")
    assert isinstance(value["name"], str) and value["age"] >= 0


def test_completions(client: openai.OpenAI) -> None:
    whole = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5)
    assert whole.choices[0].text and whole.choices[0].finish_reason == "length"
    chunks = list(
        client.completions.create(
            model=MODEL,
            prompt="Once upon a time",
            max_tokens=5,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="nomic-embed-text", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 768
    assert abs(sum(v * v for v in result.data[0].embedding) - 1.0) < 1e-6
    sized = client.embeddings.create(model="nomic-embed-text", input="a", dimensions=32)
    assert len(sized.data[0].embedding) == 32
    encoded = client.embeddings.create(model="nomic-embed-text", input="a")  # SDK asks base64
    assert len(encoded.data[0].embedding) == 768


def test_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert MODEL in ids
    model = client.models.retrieve(MODEL)
    assert model.id == MODEL and model.owned_by == "library"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nosuch")


def test_errors_use_openai_envelope(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nosuch", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 404
    assert err.value.body == {
        "message": "model 'nosuch' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[])
