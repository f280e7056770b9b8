"""Synthetic output: reproducible, shaped by the request, and consistent with its metrics."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

from .conftest import ndjson

M = "smollm2:135m"


def gen(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/api/generate", json={"model": M, "prompt": "Why is the sky blue?", **body})


def test_same_request_same_bytes_with_fixed_clock(http: httpx.Client) -> None:
    cold = gen(http, stream=False).json()
    assert cold["load_duration"] == 250_000_000  # the first use pays the (nominal) load
    first = gen(http, stream=False)
    second = gen(http, stream=False)
    assert first.content == second.content
    assert first.json()["created_at"] == "2024-06-01T00:00:00.000000Z"
    assert gen(http).content == gen(http).content  # streamed, byte for byte


def test_same_bytes_across_server_instances() -> None:
    bodies = []
    for _ in range(2):
        with MockServer(clock="fixed") as mock:
            bodies.append(
                httpx.post(
                    f"{mock.url}/api/chat",
                    json={
                        "model": M,
                        "stream": False,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                ).content
            )
    assert bodies[0] == bodies[1]


def test_seed_prompt_and_system_change_the_text(http: httpx.Client) -> None:
    base = gen(http, stream=False).json()["response"]
    assert gen(http, stream=False, options={"seed": 1}).json()["response"] != base
    assert (
        gen(http, stream=False, options={"seed": 1}).json()["response"]
        == gen(http, stream=False, options={"seed": 1}).json()["response"]
    )
    assert gen(http, stream=False, system="Be terse").json()["response"] != base
    assert gen(http, stream=False, template="{{ .Prompt }}").json()["response"] != base
    assert gen(http, stream=False, prompt="Other").json()["response"] != base


def test_stream_concatenates_to_the_whole_and_metrics_agree(http: httpx.Client, spec: Spec) -> None:
    whole = gen(http, stream=False).json()
    lines = ndjson(gen(http))
    *content, final = lines
    assert "".join(line["response"] for line in content) == whole["response"]
    assert final["done"] is True and all(line["done"] is False for line in content)
    assert final["eval_count"] == len(content) == whole["eval_count"]
    parts = final.get("load_duration", 0)
    parts += final["prompt_eval_duration"] + final["eval_duration"]
    assert final["total_duration"] >= parts
    for line in lines:
        assert spec.validate_stream_line("generate", line) == []
    assert spec.validate_response("generate", 200, whole) == []


def test_real_clock_durations_are_measured(ollama_mock: MockServer) -> None:
    with MockServer(itl_ms=5) as mock:
        final = httpx.post(
            f"{mock.url}/api/generate",
            json={"model": M, "prompt": "hi", "stream": False, "options": {"num_predict": 6}},
            timeout=10,
        ).json()
    assert final["eval_count"] == 6
    assert final["eval_duration"] >= 5 * 5 * 1e6 * 0.8  # five gaps of about 5 ms
    assert final["total_duration"] >= final["eval_duration"] + final["prompt_eval_duration"]


def test_num_predict_and_stop(http: httpx.Client) -> None:
    capped = gen(http, stream=False, options={"num_predict": 3}).json()
    assert capped["eval_count"] == 3 and capped["done_reason"] == "length"
    full = gen(http, stream=False).json()["response"]
    word = full.split()[4]
    stopped = gen(http, stream=False, options={"stop": [word]}).json()
    assert word not in stopped["response"]
    assert full.startswith(stopped["response"])
    assert stopped["done_reason"] == "stop"


def test_format_json_and_schema(http: httpx.Client) -> None:
    plain = gen(http, stream=False, format="json").json()
    assert isinstance(json.loads(plain["response"]), dict)
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 3},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1},
            "age": {"type": "integer", "minimum": 18, "maximum": 99},
            "ratio": {"type": "number", "exclusiveMaximum": 1},
            "nested": {"$ref": "#/$defs/point"},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["name", "tags", "age", "ratio", "nested", "when"],
        "$defs": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
    }
    for seed in range(5):
        out = gen(http, stream=False, format=schema, options={"seed": seed}).json()
        jsonschema.validate(json.loads(out["response"]), schema)
    streamed = ndjson(gen(http, format=schema))
    jsonschema.validate(json.loads("".join(line["response"] for line in streamed)), schema)


def test_tool_calls_validate_against_the_tool_schema(http: httpx.Client, spec: Spec) -> None:
    params = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit"],
    }
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": params}}]
    body = {"model": M, "messages": [{"role": "user", "content": "weather?"}], "tools": tools}
    reply = http.post("/api/chat", json={**body, "stream": False}).json()
    call = reply["message"]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    jsonschema.validate(call["arguments"], params)
    lines = ndjson(http.post("/api/chat", json=body))
    assert any("tool_calls" in line["message"] for line in lines[:-1])
    for line in lines:
        assert spec.validate_stream_line("chat", line) == []
    # After the tool answered, the model answers in text.
    answered = http.post(
        "/api/chat",
        json={
            **body,
            "stream": False,
            "messages": [*body["messages"], reply["message"], {"role": "tool", "content": "sunny"}],
        },
    ).json()
    assert answered["message"]["content"] and "tool_calls" not in answered["message"]


def test_thinking(http: httpx.Client) -> None:
    body = {"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "2+2?"}]}
    thought = http.post("/api/chat", json={**body, "stream": False, "think": True}).json()
    assert thought["message"]["thinking"] and thought["message"]["content"]
    lines = ndjson(http.post("/api/chat", json={**body, "think": True}))
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    assert thinking == thought["message"]["thinking"]
    assert lines[-1]["eval_count"] == len(lines) - 1
    silent = http.post("/api/chat", json={**body, "stream": False, "think": False}).json()
    assert "thinking" not in silent["message"]
    levels = [
        len(
            http.post(
                "/api/generate",
                json={"model": "qwen3:0.6b", "prompt": "x", "stream": False, "think": level},
            ).json()["thinking"]
        )
        for level in ("low", "high")
    ]
    assert levels[0] < levels[1]


def test_vision_and_insert(http: httpx.Client) -> None:
    image = "iVBORw0KGgo="  # base64 of a PNG signature
    seen = http.post(
        "/api/generate",
        json={"model": "llava", "prompt": "what is this?", "images": [image], "stream": False},
    )
    assert seen.status_code == 200 and seen.json()["response"]
    bad = http.post("/api/generate", json={"model": "llava", "prompt": "x", "images": ["***"]})
    assert bad.status_code == 400
    filled = http.post(
        "/api/generate",
        json={
            "model": "qwen2.5-coder:0.5b",
            "prompt": "def add(a, b):",
            "suffix": "return c",
            "stream": False,
        },
    )
    assert filled.status_code == 200 and filled.json()["response"]


def test_context_round_trip(http: httpx.Client) -> None:
    first = gen(http, stream=False).json()
    follow = gen(http, stream=False, prompt="and then?", context=first["context"]).json()
    alone = gen(http, stream=False, prompt="and then?").json()
    assert follow["response"] != alone["response"]
    assert "context" not in gen(http, stream=False, raw=True).json()


def test_load_and_unload(http: httpx.Client, spec: Spec) -> None:
    loaded = http.post("/api/generate", json={"model": M}).json()
    assert (loaded["done"], loaded["done_reason"], loaded["response"]) == (True, "load", "")
    assert spec.validate_response("generate", 200, loaded) == []
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == [M]
    unloaded = http.post("/api/generate", json={"model": M, "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert http.get("/api/ps").json()["models"] == []
    chat_load = http.post("/api/chat", json={"model": M, "messages": []}).json()
    assert chat_load["done_reason"] == "load" and chat_load["message"]["content"] == ""


def test_embeddings_are_deterministic_and_normalised(http: httpx.Client) -> None:
    body = {"model": "nomic-embed-text", "input": ["alpha", "beta", "alpha"]}
    first, second = (
        http.post("/api/embed", json=body).json(),
        http.post("/api/embed", json=body).json(),
    )
    assert first["embeddings"] == second["embeddings"]
    vectors = first["embeddings"]
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    for vector in vectors:
        assert len(vector) == 768
        assert sum(v * v for v in vector) == pytest.approx(1.0)
    small = http.post("/api/embed", json={**body, "dimensions": 16}).json()["embeddings"][0]
    assert len(small) == 16 and sum(v * v for v in small) == pytest.approx(1.0)
    legacy = http.post(
        "/api/embeddings", json={"model": "nomic-embed-text", "prompt": "alpha"}
    ).json()
    assert len(legacy["embedding"]) == 768
    assert sum(v * v for v in legacy["embedding"]) != pytest.approx(1.0)  # not normalised
    assert (
        http.post("/api/embed", json={"model": "nomic-embed-text", "input": []}).json()[
            "embeddings"
        ]
        == []
    )
    assert http.post(
        "/api/embeddings", json={"model": "nomic-embed-text", "prompt": ""}
    ).json() == {"embedding": []}
    long = "word " * 3000
    truncated = http.post("/api/embed", json={"model": "nomic-embed-text", "input": long}).json()
    assert truncated["prompt_eval_count"] == 2048  # cut to the context length


def test_num_predict_sets_the_length_within_the_context(http: httpx.Client) -> None:
    long = gen(http, stream=False, options={"num_predict": 300}).json()
    assert long["eval_count"] == 300 and long["done_reason"] == "length"
    bounded = gen(http, stream=False, options={"num_predict": 10**9, "num_ctx": 64}).json()
    assert bounded["eval_count"] == 64 - bounded["prompt_eval_count"]
    filled = gen(http, stream=False, options={"num_predict": -2, "num_ctx": 80}).json()
    assert filled["eval_count"] == 80 - filled["prompt_eval_count"]
    natural = gen(http, stream=False, options={"num_predict": -1}).json()
    assert 12 <= natural["eval_count"] <= 40 and natural["done_reason"] == "stop"


def test_logprobs(http: httpx.Client, spec: Spec) -> None:
    body = {"logprobs": True, "top_logprobs": 3, "options": {"num_predict": 5}}
    whole = gen(http, stream=False, **body).json()
    assert [p["token"] for p in whole["logprobs"]] == textgen_tokens(whole["response"])
    assert all(len(p["top_logprobs"]) == 3 and p["logprob"] <= 0 for p in whole["logprobs"])
    lines = ndjson(gen(http, **body))
    streamed = [p for line in lines[:-1] for p in line["logprobs"]]
    assert streamed == whole["logprobs"]
    for line in lines:
        assert spec.validate_stream_line("generate", line) == []
    chat = http.post(
        "/api/chat",
        json={"model": M, "messages": [{"role": "user", "content": "hi"}], "stream": False, **body},
    ).json()
    assert len(chat["logprobs"]) == chat["eval_count"]


def textgen_tokens(text: str) -> list[str]:
    from ollama_harness.mockserver.textgen import split_text

    return split_text(text)
