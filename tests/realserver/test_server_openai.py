"""The /v1 routes through the official ``openai`` SDK."""

from __future__ import annotations

import base64
import json
import math
import struct

import httpx
import openai
import pytest

from tests.realserver.conftest import MODEL, RunningServer

pytestmark = pytest.mark.reference


@pytest.fixture
def sdk(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="ollama", timeout=120)


def test_chat_completion(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        temperature=0,
    )
    assert completion.object == "chat.completion"
    assert completion.system_fingerprint == "fp_ollama"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 8


def test_chat_stream_with_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count to five."}],
        max_tokens=10,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 10


def test_json_object_response_format(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of France? Answer as JSON."}],
        response_format={"type": "json_object"},
        temperature=0,
        max_tokens=120,
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_completions_stream_and_not(sdk: openai.OpenAI) -> None:
    done = sdk.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=6, temperature=0
    )
    assert done.object == "text_completion"
    assert done.usage is not None and done.usage.completion_tokens == 6
    parts = list(
        sdk.completions.create(
            model=MODEL, prompt="The capital of France is", max_tokens=6, temperature=0, stream=True
        )
    )
    assert parts[-1].choices[0].finish_reason == "length"
    assert "".join(p.choices[0].text for p in parts)


def test_embeddings_float_and_base64_agree(sdk: openai.OpenAI) -> None:
    floats = sdk.embeddings.create(model=MODEL, input=["hello", "world"])
    assert [d.index for d in floats.data] == [0, 1]
    vector = floats.data[0].embedding
    assert len(vector) == 576
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    raw = sdk.embeddings.with_raw_response.create(
        model=MODEL, input="hello", encoding_format="base64"
    ).http_response.json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert all(
        math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(decoded, vector, strict=True)
    )
    assert floats.usage.prompt_tokens > 0


def test_models_list_and_retrieve(sdk: openai.OpenAI) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {MODEL, "llama3.2:latest"} <= ids
    model = sdk.models.retrieve(MODEL)
    assert model.id == MODEL and model.owned_by == "library"


def test_unknown_model_is_openai_404(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="nosuch", messages=[{"role": "user", "content": "x"}])
    assert missing.value.body == {
        "message": "model 'nosuch' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("nosuch")


def test_bad_requests_use_the_openai_envelope(http: httpx.Client) -> None:
    empty = http.post("/v1/chat/completions", json={"model": MODEL, "messages": []})
    assert empty.status_code == 400
    assert empty.json() == {
        "error": {
            "message": "[] is too short - 'messages'",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    stop = http.post("/v1/completions", json={"model": MODEL, "prompt": "x", "stop": 3})
    assert stop.status_code == 400
    assert stop.json()["error"]["message"] == "invalid type for 'stop' field: float64"
