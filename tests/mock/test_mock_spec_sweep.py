"""Every answer the mock gives matches the spec: bodies, NDJSON lines and SSE chunks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ollama_harness.core.spec import Spec

from .conftest import ndjson, sse

M = "smollm2:135m"
CHAT = {"model": M, "messages": [{"role": "user", "content": "hi"}]}
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
REQUESTS: list[tuple[str, str, str, Any]] = [
    ("getVersion", "GET", "/api/version", None),
    ("listModels", "GET", "/api/tags", None),
    ("generate", "POST", "/api/generate", {"model": M, "prompt": "hi"}),
    ("generate", "POST", "/api/generate", {"model": M, "prompt": "hi", "stream": False}),
    ("generate", "POST", "/api/generate", {"model": "qwen3:0.6b", "prompt": "hi"}),
    ("generate", "POST", "/api/generate", {"model": M, "prompt": "hi", "format": "json"}),
    ("chat", "POST", "/api/chat", CHAT),
    ("chat", "POST", "/api/chat", {**CHAT, "stream": False, "tools": TOOLS}),
    ("chat", "POST", "/api/chat", {**CHAT, "model": "qwen3:0.6b", "think": "high"}),
    ("embed", "POST", "/api/embed", {"model": "nomic-embed-text", "input": ["a", "b"]}),
    ("embeddings", "POST", "/api/embeddings", {"model": "nomic-embed-text", "prompt": "a"}),
    ("show", "POST", "/api/show", {"model": "llava", "verbose": True}),
    ("listRunning", "GET", "/api/ps", None),
    ("pull", "POST", "/api/pull", {"model": "qwen2.5:0.5b"}),
    ("pull", "POST", "/api/pull", {"model": "qwen2.5:0.5b", "stream": False}),
    ("create", "POST", "/api/create", {"model": "c", "from": M, "stream": False}),
    ("push", "POST", "/api/push", {"model": M}),
    ("openaiChatCompletions", "POST", "/v1/chat/completions", CHAT),
    (
        "openaiChatCompletions",
        "POST",
        "/v1/chat/completions",
        {**CHAT, "stream": True, "stream_options": {"include_usage": True}},
    ),
    (
        "openaiChatCompletions",
        "POST",
        "/v1/chat/completions",
        {**CHAT, "model": "qwen3:0.6b", "stream": True, "tools": TOOLS},
    ),
    ("openaiCompletions", "POST", "/v1/completions", {"model": M, "prompt": "x"}),
    (
        "openaiCompletions",
        "POST",
        "/v1/completions",
        {"model": M, "prompt": "x", "stream": True, "stream_options": {"include_usage": True}},
    ),
    ("openaiEmbeddings", "POST", "/v1/embeddings", {"model": "nomic-embed-text", "input": "a"}),
    ("openaiListModels", "GET", "/v1/models", None),
    ("openaiRetrieveModel", "GET", "/v1/models/smollm2:135m", None),
]


@pytest.mark.parametrize("case", REQUESTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(REQUESTS)])
def test_answer_matches_the_spec(
    http: httpx.Client, spec: Spec, case: tuple[str, str, str, Any]
) -> None:
    operation_id, method, path, body = case
    response = http.request(method, path, json=body) if body is not None else http.get(path)
    assert response.status_code == 200, response.text
    assert spec.route(method, path) is not None
    ctype = response.headers["content-type"].split(";")[0]
    if ctype == "application/x-ndjson":
        lines = ndjson(response)
        assert lines
        for line in lines:
            assert spec.validate_stream_line(operation_id, line) == [], line
    elif ctype == "text/event-stream":
        events = sse(response)
        assert events[-1] == "[DONE]"
        for event in events:
            assert spec.validate_stream_line(operation_id, event) == [], event
    else:
        assert spec.validate_response(operation_id, 200, response.json(), ctype) == []
