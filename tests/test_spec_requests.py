"""Request bodies against the spec: what real Ollama refuses is refused with a precise
issue (JSON path + rule), and what it accepts (legacy forms included) passes."""

from __future__ import annotations

from typing import Any

import pytest

from ollama_harness.core.spec import Spec, SpecIssue, load_spec

DIGEST = "sha256:" + "29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def first(issues: list[SpecIssue]) -> tuple[str, str]:
    assert issues, "expected the request to be refused"
    return issues[0].path, issues[0].rule


# (operationId, body, JSON path of the first issue, rule that failed)
BAD_REQUESTS: list[tuple[str, Any, str, str]] = [
    # missing model
    ("generate", {"prompt": "hi"}, "$", "required"),
    ("chat", {"messages": []}, "$", "required"),
    ("embed", {"input": "x"}, "$", "required"),
    ("embeddings", {"prompt": "x"}, "$", "required"),
    ("show", {}, "$", "required"),
    ("delete", {"verbose": True}, "$", "required"),
    ("pull", {"stream": False}, "$", "required"),
    ("push", {}, "$", "required"),
    ("create", {"from": "llama3.2"}, "$", "required"),
    ("copy", {"source": "llama3.2"}, "$", "required"),
    ("openaiChatCompletions", {"messages": [{"role": "user", "content": "hi"}]}, "$", "required"),
    ("openaiEmbeddings", {"model": "m"}, "$", "required"),
    # not a JSON object at all
    ("generate", [1, 2], "$", "type"),
    ("chat", "hello", "$", "type"),
    # bad model names: path traversal, too many parts, a part over 80 characters
    ("generate", {"model": "../x"}, "$.model", "pattern"),
    ("chat", {"model": "../../etc/passwd"}, "$.model", "pattern"),
    ("show", {"model": "a/b/c/d"}, "$.model", "pattern"),
    ("pull", {"model": "x" * 100}, "$.model", "pattern"),
    ("pull", {"name": "me/" + "y" * 81}, "$.name", "pattern"),
    ("delete", {"name": ".."}, "$.name", "pattern"),
    ("create", {"model": "/abs/path", "from": "llama3.2"}, "$.model", "pattern"),
    ("copy", {"source": "llama3.2", "destination": "a/../b"}, "$.destination", "pattern"),
    ("copy", {"source": "", "destination": "b"}, "$.source", "pattern"),
    ("embed", {"model": "m:"}, "$.model", "pattern"),
    ("generate", {"model": "llama3\n"}, "$.model", "not"),
    ("openaiCompletions", {"model": "../x", "prompt": "hi"}, "$.model", "pattern"),
    ("generate", {"model": 3}, "$.model", "type"),
    # wrong types
    ("generate", {"model": "m", "prompt": 42}, "$.prompt", "type"),
    ("generate", {"model": "m", "stream": "false"}, "$.stream", "type"),
    ("generate", {"model": "m", "raw": 1}, "$.raw", "type"),
    ("generate", {"model": "m", "context": "1,2,3"}, "$.context", "type"),
    ("generate", {"model": "m", "context": [1, 2.5]}, "$.context[1]", "type"),
    ("generate", {"model": "m", "images": "aGk="}, "$.images", "type"),
    (
        "generate",
        {"model": "m", "images": ["data:image/png;base64,aGk="]},
        "$.images[0]",
        "pattern",
    ),
    ("generate", {"model": "m", "options": []}, "$.options", "type"),
    (
        "generate",
        {"model": "m", "options": {"temperature": "hot"}},
        "$.options.temperature",
        "type",
    ),
    ("chat", {"model": "m", "options": {"num_ctx": 2048.5}}, "$.options.num_ctx", "type"),
    ("chat", {"model": "m", "options": {"use_mmap": "yes"}}, "$.options.use_mmap", "type"),
    ("generate", {"model": "m", "options": {"seed": "42"}}, "$.options.seed", "type"),
    # stop must be an array of strings
    ("generate", {"model": "m", "options": {"stop": "\n"}}, "$.options.stop", "type"),
    ("generate", {"model": "m", "options": {"stop": ["a", 1]}}, "$.options.stop[1]", "type"),
    # durations
    ("generate", {"model": "m", "keep_alive": "5 minutes"}, "$.keep_alive", "pattern"),
    ("chat", {"model": "m", "keep_alive": "5"}, "$.keep_alive", "pattern"),
    ("embed", {"model": "m", "keep_alive": True}, "$.keep_alive", "type"),
    ("embeddings", {"model": "m", "keep_alive": [5]}, "$.keep_alive", "type"),
    # think, format, top_logprobs
    ("chat", {"model": "m", "think": "extreme"}, "$.think", "enum"),
    ("generate", {"model": "m", "think": 1}, "$.think", "type"),
    ("generate", {"model": "m", "format": "xml"}, "$.format", "enum"),
    ("chat", {"model": "m", "format": ["json"]}, "$.format", "type"),
    ("generate", {"model": "m", "top_logprobs": 21}, "$.top_logprobs", "maximum"),
    ("chat", {"model": "m", "top_logprobs": -1}, "$.top_logprobs", "minimum"),
    ("chat", {"model": "m", "logprobs": "yes"}, "$.logprobs", "type"),
    # messages
    ("chat", {"model": "m", "messages": {"role": "user"}}, "$.messages", "type"),
    (
        "chat",
        {"model": "m", "messages": [{"role": 1, "content": "hi"}]},
        "$.messages[0].role",
        "type",
    ),
    ("chat", {"model": "m", "messages": [{"content": "hi"}]}, "$.messages[0]", "required"),
    (
        "chat",
        {"model": "m", "messages": [{"role": "user", "content": ["hi"]}]},
        "$.messages[0].content",
        "type",
    ),
    (
        "chat",
        {"model": "m", "messages": [{"role": "user", "images": [7]}]},
        "$.messages[0].images[0]",
        "type",
    ),
    (
        "chat",
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]},
        "$.messages[0].tool_calls[0].function",
        "required",
    ),
    ("chat", {"model": "m", "tools": [{"type": "function"}]}, "$.tools[0]", "required"),
    ("chat", {"model": "m", "tools": {"type": "function"}}, "$.tools", "type"),
    # embeddings
    ("embed", {"model": "m", "input": 5}, "$.input", "type"),
    ("embed", {"model": "m", "input": [1, 2]}, "$.input[0]", "type"),
    ("embed", {"model": "m", "input": "x", "truncate": "no"}, "$.truncate", "type"),
    ("embed", {"model": "m", "dimensions": "256"}, "$.dimensions", "type"),
    ("embeddings", {"model": "m", "prompt": ["a"]}, "$.prompt", "type"),
    # model management
    ("show", {"model": "m", "verbose": "true"}, "$.verbose", "type"),
    (
        "create",
        {"model": "m", "files": {"model.gguf": "sha256:abc"}},
        "$.files['model.gguf']",
        "pattern",
    ),
    ("create", {"model": "m", "files": ["model.gguf"]}, "$.files", "type"),
    (
        "create",
        {"model": "m", "adapters": {"a.gguf": "md5:" + "0" * 64}},
        "$.adapters['a.gguf']",
        "pattern",
    ),
    ("create", {"model": "m", "license": 3}, "$.license", "type"),
    (
        "create",
        {"model": "m", "parameters": {"temperature": "x"}},
        "$.parameters.temperature",
        "type",
    ),
    ("create", {"model": "m", "modelfile": ["FROM x"]}, "$.modelfile", "type"),
    ("create", {"model": "m", "messages": [{"content": "x"}]}, "$.messages[0]", "required"),
    ("pull", {"model": "m", "insecure": "true"}, "$.insecure", "type"),
    ("push", {"model": "m", "stream": 0}, "$.stream", "type"),
    # OpenAI-compatible
    ("openaiChatCompletions", {"model": "m", "messages": []}, "$.messages", "minItems"),
    (
        "openaiChatCompletions",
        {"model": "m", "messages": [{"role": "user", "content": 1.5}]},
        "$.messages[0].content",
        "type",
    ),
    (
        "openaiChatCompletions",
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": 3},
        "$.stop",
        "type",
    ),
    (
        "openaiChatCompletions",
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "huge"},
        "$.reasoning_effort",
        "enum",
    ),
    ("openaiCompletions", {"model": "m", "prompt": "x", "stop": [1]}, "$.stop[0]", "type"),
    (
        "openaiCompletions",
        {"model": "m", "prompt": "x", "max_tokens": "10"},
        "$.max_tokens",
        "type",
    ),
    ("openaiEmbeddings", {"model": "m", "input": []}, "$.input", "minItems"),
    (
        "openaiEmbeddings",
        {"model": "m", "input": "x", "encoding_format": "hex"},
        "$.encoding_format",
        "pattern",
    ),
]


@pytest.mark.parametrize(("op_id", "body", "path", "rule"), BAD_REQUESTS)
def test_bad_request_is_refused_precisely(
    spec: Spec, op_id: str, body: Any, path: str, rule: str
) -> None:
    assert first(spec.validate_request(op_id, body)) == (path, rule)


VALID_REQUESTS: list[tuple[str, Any]] = [
    ("generate", {"model": "smollm2:135m"}),
    ("generate", {"model": "smollm2:135m", "prompt": "", "keep_alive": 0}),
    ("generate", {"model": "m", "keep_alive": -1}),
    ("generate", {"model": "m", "keep_alive": "1h30m"}),
    ("generate", {"model": "m", "keep_alive": "-1s"}),
    ("generate", {"model": "m", "keep_alive": 2.5}),
    ("generate", {"model": "m", "format": "json"}),
    ("generate", {"model": "m", "format": ""}),
    ("generate", {"model": "m", "format": None}),
    ("generate", {"model": "m", "format": {"type": "object"}}),
    ("generate", {"model": "m", "think": True}),
    ("generate", {"model": "m", "think": "low"}),
    ("generate", {"model": "m", "top_logprobs": 0}),
    ("generate", {"model": "m", "top_logprobs": 20, "logprobs": True}),
    ("generate", {"model": "m", "images": ["iVBORw0KGgo="], "suffix": "end", "raw": False}),
    ("generate", {"model": "m", "options": {"num_ctx": 2048.0, "stop": []}}),
    ("generate", {"model": "m", "options": {"an_unknown_option": "kept quiet"}}),
    ("generate", {"model": "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "prompt": "x"}),
    ("chat", {"model": "m"}),
    ("chat", {"model": "m", "messages": [], "keep_alive": "0"}),
    ("chat", {"model": "m", "messages": [{"role": "USER", "content": "hi"}]}),
    ("chat", {"model": "m", "messages": [{"role": "assistant"}], "think": "max"}),
    ("embed", {"model": "m", "input": []}),
    ("embed", {"model": "m"}),
    ("embed", {"model": "m", "input": ["a", "b"], "dimensions": 64, "truncate": False}),
    ("embeddings", {"model": "m", "prompt": ""}),
    # legacy forms
    ("show", {"name": "llama3.2"}),
    ("show", {"model": "llama3.2", "name": "ignored"}),
    ("delete", {"name": "llama3.2"}),
    ("pull", {"name": "llama3.2", "insecure": True}),
    ("push", {"name": "me/m:latest", "username": "u", "password": "p"}),
    ("create", {"name": "m", "modelfile": "FROM llama3.2\n"}),
    ("create", {"name": "m", "path": "/home/me/Modelfile", "quantization": "q4_0"}),
    ("create", {"model": "m", "from": "llama3.2", "license": "MIT"}),
    (
        "create",
        {"model": "m", "files": {"model.gguf": "sha256-" + "0" * 64}, "license": ["a", "b"]},
    ),
    (
        "create",
        {"model": "m", "from": "m2", "parameters": {"stop": ["<|im_end|>"]}, "quantize": "q8_0"},
    ),
    ("copy", {"source": "smollm2:135m", "destination": "me/smollm2:mine"}),
    # OpenAI-compatible
    ("openaiChatCompletions", {"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    (
        "openaiChatCompletions",
        {
            "model": "m",
            "messages": [{"role": "assistant", "content": None, "tool_calls": []}],
            "stream": None,
            "temperature": None,
            "stop": "\n",
            "response_format": {"type": "json_schema", "json_schema": {"schema": {}}},
        },
    ),
    ("openaiCompletions", {"model": "m", "prompt": "x", "stop": ["a"], "logprobs": 3}),
    ("openaiEmbeddings", {"model": "m", "input": "x", "encoding_format": "BASE64"}),
]


@pytest.mark.parametrize(("op_id", "body"), VALID_REQUESTS)
def test_valid_request_passes(spec: Spec, op_id: str, body: Any) -> None:
    assert spec.validate_request(op_id, body) == []


@pytest.mark.parametrize(
    ("digest", "rule"),
    [
        ("sha256:abc", "pattern"),
        ("sha256:" + "A" * 64, "pattern"),
        ("sha256:" + "0" * 63, "pattern"),
        ("sha256:" + "0" * 65, "pattern"),
        ("md5:" + "0" * 64, "pattern"),
        ("sha256_" + "0" * 64, "pattern"),
        ("0" * 64, "pattern"),
        ("sha256:" + "0" * 64 + "\n", "not"),
        (64, "type"),
    ],
)
def test_bad_digests(spec: Spec, digest: Any, rule: str) -> None:
    assert first(spec.validate_component("Digest", digest)) == ("$", rule)


@pytest.mark.parametrize("digest", [DIGEST, DIGEST.replace(":", "-", 1)])
def test_good_digests(spec: Spec, digest: str) -> None:
    assert spec.validate_component("Digest", digest) == []


def test_blob_path_parameter_is_a_digest(spec: Spec) -> None:
    parameter = spec.document["paths"]["/api/blobs/{digest}"]["parameters"][0]
    assert parameter["schema"] == {"$ref": "#/components/schemas/Digest"}


@pytest.mark.parametrize(
    ("value", "rule"),
    [("5 minutes", "pattern"), ("5", "pattern"), ("--1s", "pattern"), (None, "type")],
)
def test_bad_durations(spec: Spec, value: Any, rule: str) -> None:
    assert first(spec.validate_component("Duration", value)) == ("$", rule)


def test_bad_request_table_is_large_enough() -> None:
    assert len(BAD_REQUESTS) >= 25
    assert len({op for op, *_ in BAD_REQUESTS}) >= 12
