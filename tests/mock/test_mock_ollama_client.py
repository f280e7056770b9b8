"""The official ``ollama`` Python client, every method, sync and async, against the mock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ollama
import pytest

from ollama_harness.mockserver.testing import MockServer

MODEL = "smollm2:135m"


@pytest.fixture
def client(ollama_mock: MockServer) -> ollama.Client:
    return ollama.Client(host=ollama_mock.url)


def test_list_and_show(client: ollama.Client) -> None:
    names = {m.model for m in client.list().models}
    assert {MODEL, "llama3.2:latest", "nomic-embed-text:latest", "qwen3:0.6b"} <= names
    shown = client.show(MODEL)
    assert shown.details is not None
    assert shown.details.family == "llama"
    assert shown.details.parameter_size == "134.52M"
    assert shown.modelinfo is not None and shown.modelinfo["llama.context_length"] == 8192
    assert shown.capabilities == ["completion", "tools"]
    assert shown.template and "<|im_start|>" in shown.template
    assert shown.modelfile is not None and shown.modelfile.startswith("# Modelfile generated")
    assert shown.parameters is not None and '"<|im_end|>"' in shown.parameters


def test_generate_streamed_equals_whole(client: ollama.Client) -> None:
    whole = client.generate(model=MODEL, prompt="Why is the sky blue?")
    parts = list(client.generate(model=MODEL, prompt="Why is the sky blue?", stream=True))
    assert whole.done and parts[-1].done
    assert "".join(p.response or "" for p in parts) == whole.response
    content_lines = [p for p in parts if not p.done]
    assert parts[-1].eval_count == len(content_lines) == whole.eval_count
    assert all(p.response for p in content_lines)
    assert whole.context and whole.done_reason == "stop"


def test_chat_streamed_and_not(client: ollama.Client) -> None:
    messages = [{"role": "user", "content": "Hello, how are you?"}]
    reply = client.chat(model=MODEL, messages=messages)
    assert reply.message.role == "assistant" and reply.message.content
    parts = list(client.chat(model=MODEL, messages=messages, stream=True))
    assert "".join(p.message.content or "" for p in parts) == reply.message.content


def test_chat_tools_and_thinking(client: ollama.Client) -> None:
    def get_weather(city: str) -> str:
        """Weather in a city.

        Args:
          city: the city name
        """
        return "sunny"

    reply = client.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[get_weather],
    )
    assert reply.message.tool_calls
    call = reply.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments["city"], str)
    thought = client.chat(
        model="qwen3:0.6b", messages=[{"role": "user", "content": "2+2?"}], think=True
    )
    assert thought.message.thinking and thought.message.content
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=MODEL, messages=[{"role": "user", "content": "x"}], think=True)
    assert err.value.status_code == 400
    assert err.value.error == f'"{MODEL}" does not support thinking'


def test_embed_and_embeddings(client: ollama.Client) -> None:
    one = client.embed(model="nomic-embed-text", input="The sky is blue")
    assert len(one.embeddings) == 1 and len(one.embeddings[0]) == 768
    batch = client.embed(model="nomic-embed-text", input=["a", "The sky is blue"], dimensions=64)
    assert [len(v) for v in batch.embeddings] == [64, 64]
    legacy = client.embeddings(model="nomic-embed-text", prompt="The sky is blue")
    assert len(legacy.embedding) == 768


def test_pull_push_create_copy_delete(client: ollama.Client, tmp_path: Path) -> None:
    progress = list(client.pull("snowflake-arctic-embed:22m", stream=True))
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    assert "snowflake-arctic-embed:22m" in {m.model for m in client.list().models}
    assert client.pull("snowflake-arctic-embed:22m").status == "success"

    assert client.create(model="mario", from_=MODEL, system="You are Mario").status == "success"
    # Ollama quotes a value only when it spans lines or has edge spaces.
    assert "\nSYSTEM You are Mario\n" in (client.show("mario").modelfile or "")
    assert client.copy("mario", "luigi").status == "success"
    assert client.push("luigi").status == "success"
    assert client.delete("luigi").status == "success"
    assert "luigi:latest" not in {m.model for m in client.list().models}

    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(range(256)) * 8)
    digest = client.create_blob(weights)
    streamed = list(client.create(model="local", files={"model.gguf": digest}, stream=True))
    assert streamed[-1].status == "success"
    details = client.show("local").details
    assert details is not None and details.format == "gguf"


def test_ps_after_use(client: ollama.Client) -> None:
    assert client.ps().models == []
    client.generate(model=MODEL, prompt="hi")
    running = client.ps().models
    assert [m.model for m in running] == [MODEL]
    assert running[0].expires_at is not None and running[0].size_vram


def test_errors_raise_response_error(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.generate(model="nosuch", prompt="x")
    assert err.value.status_code == 404 and err.value.error == "model 'nosuch' not found"
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nosuch")
    assert err.value.status_code == 404


def test_async_client_every_method(ollama_mock: MockServer) -> None:
    async def scenario() -> None:
        client = ollama.AsyncClient(host=ollama_mock.url)
        assert (await client.list()).models
        reply = await client.generate(model=MODEL, prompt="hi")
        chunks = [c async for c in await client.generate(model=MODEL, prompt="hi", stream=True)]
        assert "".join(c.response or "" for c in chunks) == reply.response
        chat = await client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        streamed = [
            c
            async for c in await client.chat(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
            )
        ]
        assert "".join(c.message.content or "" for c in streamed) == chat.message.content
        assert (await client.embed(model="nomic-embed-text", input="x")).embeddings
        assert (await client.embeddings(model="nomic-embed-text", prompt="x")).embedding
        assert (await client.show(MODEL)).capabilities
        assert (await client.ps()).models
        pulled = [p async for p in await client.pull("qwen2.5:0.5b", stream=True)]
        assert pulled[-1].status == "success"
        assert (await client.create(model="a", from_=MODEL)).status == "success"
        assert (await client.copy("a", "b")).status == "success"
        assert (await client.push("b")).status == "success"
        assert (await client.delete("b")).status == "success"
        # Concurrent requests all complete (the queue serialises them per model).
        replies = await asyncio.gather(
            *(client.generate(model=MODEL, prompt=f"q{i}") for i in range(8))
        )
        assert all(r.done for r in replies)

    asyncio.run(scenario())
