"""Every refusal in ollama-behaviour.md, over raw HTTP: status and exact body.

Also: every error body matches the spec's Error schema, and a storm of malformed
requests never produces a 500 or a traceback.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

M = "smollm2:135m"
CASES: list[tuple[str, str, Any, int, str]] = [
    # framing
    ("POST", "/api/generate", b"", 400, "missing request body"),
    ("POST", "/api/chat", b"{", 400, "unexpected EOF"),
    (
        "POST",
        "/api/generate",
        b"[1]",
        400,
        "json: cannot unmarshal array into Go value of type api.GenerateRequest",
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": 5},
        400,
        "json: cannot unmarshal number into Go struct field GenerateRequest.prompt of type string",
    ),
    # model names
    ("POST", "/api/generate", {"model": "bad name!", "prompt": "x"}, 400, "invalid model name"),
    ("POST", "/api/chat", {"model": "bad name!", "messages": []}, 400, "invalid model name"),
    ("POST", "/api/show", {"model": "bad name!"}, 400, "invalid model name"),
    ("POST", "/api/pull", {"model": "bad name!"}, 400, "invalid model name"),
    ("DELETE", "/api/delete", {"model": "bad name!"}, 400, 'name "bad name!" is invalid'),
    (
        "POST",
        "/api/copy",
        {"source": "bad name!", "destination": "x"},
        400,
        'source "bad name!" is invalid',
    ),
    (
        "POST",
        "/api/copy",
        {"source": M, "destination": "bad name!"},
        400,
        'destination "bad name!" is invalid',
    ),
    # missing / unknown models
    ("POST", "/api/generate", {"prompt": "x"}, 404, "model '' not found"),
    ("POST", "/api/generate", {"model": "nosuch", "prompt": "x"}, 404, "model 'nosuch' not found"),
    ("POST", "/api/chat", {"messages": []}, 400, "model is required"),
    ("POST", "/api/chat", {"model": "nosuch", "messages": []}, 404, "model 'nosuch' not found"),
    (
        "POST",
        "/api/embed",
        {"model": "nosuch", "input": "x"},
        404,
        'model "nosuch" not found, try pulling it first',
    ),
    ("POST", "/api/embeddings", {"prompt": "x"}, 400, "model is required"),
    (
        "POST",
        "/api/embeddings",
        {"model": "nosuch", "prompt": "x"},
        404,
        'model "nosuch" not found, try pulling it first',
    ),
    ("POST", "/api/show", {}, 400, "model is required"),
    ("POST", "/api/show", {"model": "nosuch"}, 404, "model 'nosuch' not found"),
    ("DELETE", "/api/delete", {}, 400, "model is required"),
    ("DELETE", "/api/delete", {"model": "nosuch"}, 404, "model 'nosuch' not found"),
    ("POST", "/api/copy", {"source": M}, 400, "source and destination are required"),
    (
        "POST",
        "/api/copy",
        {"source": "nosuch", "destination": "x"},
        404,
        'model "nosuch" not found',
    ),
    ("POST", "/api/pull", {}, 400, "invalid model name"),
    # capabilities and options
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "think": True},
        400,
        f'"{M}" does not support thinking',
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "suffix": "y"},
        400,
        f'"{M}" does not support insert',
    ),
    (
        "POST",
        "/api/generate",
        {"model": "nomic-embed-text", "prompt": "x"},
        400,
        '"nomic-embed-text" does not support generate',
    ),
    (
        "POST",
        "/api/chat",
        {"model": "nomic-embed-text", "messages": [{"role": "user", "content": "x"}]},
        400,
        '"nomic-embed-text" does not support chat',
    ),
    (
        "POST",
        "/api/chat",
        {
            "model": "llama3",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
        400,
        '"llama3" does not support tools',
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "images": ["aGk="]},
        400,
        f'"{M}" does not support vision',
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "raw": True, "system": "s"},
        400,
        "raw mode does not support template, system, or context",
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "top_logprobs": 21},
        400,
        "top_logprobs must be between 0 and 20",
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "keep_alive": "5 minutes"},
        400,
        'time: invalid duration "5 minutes"',
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "options": {"num_predict": "3"}},
        400,
        'option "num_predict" must be of type integer',
    ),
    (
        "POST",
        "/api/generate",
        {"model": M, "prompt": "x", "think": "deep"},
        400,
        'invalid think value: "deep" (must be "high", "medium", "low", "max", true, or false)',
    ),
    # embeddings
    (
        "POST",
        "/api/embed",
        {"model": "nomic-embed-text", "input": [1, 2]},
        400,
        "invalid input type",
    ),
    (
        "POST",
        "/api/embed",
        {"model": "nomic-embed-text", "input": "word " * 3000, "truncate": False},
        400,
        "the input length exceeds the context length",
    ),
    # blobs and create
    ("POST", "/api/blobs/sha256:abc", b"x", 400, "invalid digest format"),
    (
        "POST",
        "/api/blobs/sha256:" + "0" * 64,
        b"x",
        400,
        'digest mismatch, expected "sha256:' + "0" * 64 + '", got '
        '"sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"',
    ),
    ("POST", "/api/create", {"model": "x"}, 400, "neither 'from' or 'files' was specified"),
    (
        "POST",
        "/api/create",
        {"model": "x", "files": {"/etc/passwd": "sha256:" + "1" * 64}},
        400,
        "file path must be relative",
    ),
    (
        "POST",
        "/api/create",
        {"model": "x", "files": {"../up.gguf": "sha256:" + "1" * 64}},
        400,
        "file path must be relative",
    ),
]


def _send(http: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return http.request(method, path, content=body)
    return http.request(method, path, json=body)


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{c[1]}:{c[4][:40]}" for c in CASES],
)
def test_refusal(http: httpx.Client, spec: Spec, case: tuple[str, str, Any, int, str]) -> None:
    method, path, body, status, message = case
    response = _send(http, method, path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": message}
    op = spec.route(method, path)
    assert op is not None
    assert spec.validate_response(op.operation_id, status, response.json()) == []


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    missing = http.get("/api/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    wrong = http.get("/api/chat")
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")
    assert http.post("/api/tags").status_code == 405
    assert http.delete("/").status_code == 405


def test_root_and_head(http: httpx.Client) -> None:
    root = http.get("/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["content-type"].startswith("text/plain")
    head = http.head("/")
    assert head.status_code == 200 and head.content == b""
    assert http.head("/api/tags").status_code == 200
    assert http.head("/api/blobs/sha256:" + "0" * 64).status_code == 404
    assert http.head("/api/blobs/nonsense").status_code == 400


def test_non_local_host_header_is_forbidden(http: httpx.Client) -> None:
    refused = http.get("/api/tags", headers={"Host": "evil.example.com"})
    assert refused.status_code == 403 and refused.content == b""
    for host in ("localhost:11434", "127.0.0.1", "[::1]:80", "box.local", "10.0.0.2"):
        assert http.get("/api/tags", headers={"Host": host}).status_code == 200, host


def test_openai_errors_use_the_envelope(http: httpx.Client, spec: Spec) -> None:
    cases = [
        (
            {"model": "nosuch", "messages": [{"role": "user", "content": "x"}]},
            404,
            "model 'nosuch' not found",
            "not_found_error",
        ),
        (
            {"model": M, "messages": []},
            400,
            "[] is too short - 'messages'",
            "invalid_request_error",
        ),
        (b"{", 400, "unexpected EOF", "invalid_request_error"),
    ]
    for body, status, message, kind in cases:
        response = _send(http, "POST", "/v1/chat/completions", body)
        assert response.status_code == status
        assert response.json() == {
            "error": {"message": message, "type": kind, "param": None, "code": None}
        }
        assert spec.validate_response("openaiChatCompletions", status, response.json()) == []


def test_pull_of_unknown_model_streams_the_error(http: httpx.Client) -> None:
    response = http.post("/api/pull", json={"model": "no-such-model"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200
    assert lines == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    whole = http.post("/api/pull", json={"model": "no-such-model", "stream": False})
    assert whole.status_code == 500  # what Ollama's waitForStream answers
    assert whole.json() == {"error": "pull model manifest: file does not exist"}


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "model",
        "prompt",
        "messages",
        "stream",
        "options",
        "format",
        "keep_alive",
        "think",
        "input",
        "images",
        "tools",
        "source",
        "destination",
        "files",
        "name",
        "suffix",
        "raw",
        "context",
    ]
)
_PATHS = st.sampled_from(
    [
        ("POST", p)
        for p in (
            "/api/generate",
            "/api/chat",
            "/api/embed",
            "/api/embeddings",
            "/api/show",
            "/api/create",
            "/api/copy",
            "/api/pull",
            "/api/push",
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
        )
    ]
    + [("DELETE", "/api/delete")]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=_PATHS,
    body=st.one_of(
        st.dictionaries(_FIELDS, _JSON, max_size=5),
        st.fixed_dictionaries(
            {"model": st.sampled_from([M, "qwen3:0.6b", "nomic-embed-text"])},
            optional={
                "prompt": _JSON,
                "messages": _JSON,
                "options": _JSON,
                "format": _JSON,
                "think": _JSON,
                "input": _JSON,
                "stream": st.just(False),
            },
        ),
        st.binary(max_size=20),
    ),
)
def test_bad_input_never_crashes(
    ollama_mock: MockServer, route: tuple[str, str], body: Any
) -> None:
    method, path = route
    with httpx.Client(base_url=ollama_mock.url, timeout=10) as http:
        response = _send(http, method, path, body)
    assert response.status_code != 500 or path == "/api/pull", response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        payload = response.json()
        assert "error" in payload
    ollama_mock.reset()  # one example must not see what another created


def test_cors_like_ollama(http: httpx.Client) -> None:
    preflight = http.options(
        "/api/chat",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    simple = http.get("/api/tags", headers={"Origin": "app://desktop"})
    assert simple.headers["access-control-allow-origin"] == "app://desktop"
    assert http.get("/api/tags", headers={"Origin": "https://evil.example"}).status_code == 403
    assert "access-control-allow-origin" not in http.get("/api/tags").headers


def test_configured_origins() -> None:
    with (
        MockServer(origins="https://*.example.com") as mock,
        httpx.Client(base_url=mock.url) as http,
    ):
        ok = http.get("/api/version", headers={"Origin": "https://app.example.com"})
        assert ok.status_code == 200
        assert http.get("/api/version", headers={"Origin": "https://other.org"}).status_code == 403


def test_every_method_on_every_path_answers_without_a_500(http: httpx.Client, spec: Spec) -> None:
    paths = {
        op.path.replace("{digest}", "sha256:" + "c" * 64).replace("{model}", M)
        for op in spec.operations.values()
    }
    paths |= {"/api/blobs/", "/api/blobs/..%2F..%2Fetc", "/v1/models/", "/api/generate/x", "//"}
    for path in sorted(paths):
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            response = http.request(method, path, content=b"\xff\x00garbage")
            assert response.status_code < 500, (method, path, response.text)
            allowed = spec.methods_for(path)
            if allowed and method not in allowed and method != "OPTIONS" and "%" not in path:
                assert response.status_code == 405, (method, path)


@pytest.mark.parametrize(
    ("path", "empty"), [("/api/generate", "prompt"), ("/api/chat", "messages")]
)
def test_unload_comes_before_the_capability_checks(
    http: httpx.Client, path: str, empty: str
) -> None:
    """Ollama's order (the protocol core's): an embedding model unloads on keep_alive 0,
    and only a request that would run it is refused for what it cannot do."""
    body: dict[str, Any] = {"model": "nomic-embed-text", empty: "" if empty == "prompt" else []}
    unloaded = http.post(path, json={**body, "keep_alive": 0})
    assert unloaded.status_code == 200, unloaded.text
    assert unloaded.json()["done_reason"] == "unload"
    refused = http.post(path, json=body)
    assert refused.status_code == 400
    what = "generate" if path == "/api/generate" else "chat"
    assert refused.json() == {"error": f'"nomic-embed-text" does not support {what}'}
