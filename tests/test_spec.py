"""spec/openapi.yaml: valid OpenAPI 3.1, every operation present, every example and
every documented response (from the seed documents) valid against it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from ollama_harness.cli import main
from ollama_harness.commands.spec import example_issues
from ollama_harness.core.durations import DURATION_PATTERN
from ollama_harness.core.names import MODEL_NAME_PATTERN, is_valid_model_name
from ollama_harness.core.spec import JSON, NDJSON, SSE, Spec, default_spec_path, load_spec

SEEDS = Path(__file__).parent / "fixtures" / "seeds"

#: operationId -> (method, path), exactly as the servers and the conformance suite use them.
OPERATIONS: dict[str, tuple[str, str]] = {
    "getRoot": ("GET", "/"),
    "headRoot": ("HEAD", "/"),
    "getVersion": ("GET", "/api/version"),
    "headVersion": ("HEAD", "/api/version"),
    "listModels": ("GET", "/api/tags"),
    "headTags": ("HEAD", "/api/tags"),
    "listRunning": ("GET", "/api/ps"),
    "generate": ("POST", "/api/generate"),
    "chat": ("POST", "/api/chat"),
    "embed": ("POST", "/api/embed"),
    "embeddings": ("POST", "/api/embeddings"),
    "show": ("POST", "/api/show"),
    "create": ("POST", "/api/create"),
    "copy": ("POST", "/api/copy"),
    "pull": ("POST", "/api/pull"),
    "push": ("POST", "/api/push"),
    "delete": ("DELETE", "/api/delete"),
    "headBlob": ("HEAD", "/api/blobs/{digest}"),
    "createBlob": ("POST", "/api/blobs/{digest}"),
    "openaiChatCompletions": ("POST", "/v1/chat/completions"),
    "openaiCompletions": ("POST", "/v1/completions"),
    "openaiEmbeddings": ("POST", "/v1/embeddings"),
    "openaiListModels": ("GET", "/v1/models"),
    "openaiRetrieveModel": ("GET", "/v1/models/{model}"),
    "openaiResponses": ("POST", "/v1/responses"),
    "anthropicMessages": ("POST", "/v1/messages"),
}
STREAMING = {
    "generate": NDJSON,
    "chat": NDJSON,
    "pull": NDJSON,
    "push": NDJSON,
    "create": NDJSON,
    "openaiChatCompletions": SSE,
    "openaiCompletions": SSE,
    "openaiResponses": SSE,
    "anthropicMessages": SSE,
}
INFERENCE = ("generate", "chat", "embed", "embeddings")
OPENAI = tuple(op for op in OPERATIONS if op.startswith("openai"))
COMPAT = ("openaiResponses", "anthropicMessages")
REQUIRED_SCHEMAS = [
    "ModelName",
    "Duration",
    "Digest",
    "Options",
    "Error",
    "OpenAIError",
    "Message",
    "ToolCall",
    "Tool",
    "ModelDetails",
    "Format",
    "Think",
    "GenerateRequest",
    "GenerateResponse",
    "GenerateStreamLine",
    "ChatRequest",
    "ChatResponse",
    "ChatStreamLine",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "ShowRequest",
    "ShowResponse",
    "CreateRequest",
    "CreateStreamLine",
    "CopyRequest",
    "DeleteRequest",
    "PullRequest",
    "PullStreamLine",
    "PushRequest",
    "PushStreamLine",
    "ProgressLine",
    "StatusSuccess",
    "ListResponse",
    "ProcessResponse",
    "VersionResponse",
    "OpenAIChatCompletionRequest",
    "OpenAIChatCompletion",
    "OpenAIChatCompletionStreamChunk",
    "OpenAICompletionRequest",
    "OpenAICompletion",
    "OpenAICompletionStreamChunk",
    "OpenAIEmbeddingRequest",
    "OpenAIEmbeddingList",
    "OpenAIModelList",
    "OpenAIModel",
    "AnthropicMessagesRequest",
    "AnthropicMessage",
    "AnthropicStreamEvent",
    "AnthropicError",
    "ResponsesRequest",
    "ResponsesResponse",
    "ResponsesStreamEvent",
]


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# ---------------------------------------------------------------- document
def test_spec_is_valid_openapi_31() -> None:
    document, _ = read_from_filename(str(default_spec_path()))
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_info_and_servers(spec: Spec) -> None:
    assert spec.version
    assert any(s["url"] == "http://127.0.0.1:11434" for s in spec.document["servers"])


@pytest.mark.parametrize(("op_id", "route"), OPERATIONS.items())
def test_operation_exists_with_method_and_path(
    spec: Spec, op_id: str, route: tuple[str, str]
) -> None:
    op = spec.operation(op_id)
    assert (op.method, op.path) == route


def test_no_operation_beyond_the_table(spec: Spec) -> None:
    assert set(spec.operations) == set(OPERATIONS)


def test_routing(spec: Spec) -> None:
    digest = "sha256:" + "a" * 64
    blob = spec.route("POST", f"/api/blobs/{digest}")
    assert blob is not None and blob.operation_id == "createBlob"
    assert spec.methods_for(f"/api/blobs/{digest}") == {"HEAD", "POST"}
    assert spec.methods_for("/api/tags") == {"GET", "HEAD"}
    assert spec.methods_for("/") == {"GET", "HEAD"}
    assert spec.methods_for("/api/nope") == set()
    assert spec.route("GET", "/api/generate") is None
    retrieve = spec.route("GET", "/v1/models/llama3.2:latest")
    assert retrieve is not None and retrieve.operation_id == "openaiRetrieveModel"


@pytest.mark.parametrize("name", REQUIRED_SCHEMAS)
def test_component_schema_exists(spec: Spec, name: str) -> None:
    assert isinstance(spec.schema(name), dict)


def test_model_name_pattern_is_the_core_grammar(spec: Spec) -> None:
    schema = spec.schema("ModelName")
    assert schema["type"] == "string"
    assert schema["pattern"] == MODEL_NAME_PATTERN


def test_duration_pattern_is_the_core_grammar(spec: Spec) -> None:
    branches = spec.schema("Duration")["oneOf"]
    assert [b["pattern"] for b in branches if b.get("type") == "string"] == [DURATION_PATTERN]
    assert any(b.get("type") == "number" for b in branches)


def test_digest_pattern(spec: Spec) -> None:
    assert spec.schema("Digest")["pattern"] == "^sha256[:-][0-9a-f]{64}$"


@pytest.mark.parametrize(
    "name",
    [
        *("llama3", "smollm2:135m", "me/m:v1", "localhost:5000/me/m:t", "x" * 80, "_x.y-z:1.2_b"),
        *("../x", "", "..", "a/b/c/d", "m:", ":t", "-dash", "x" * 81, "sp ace", "/etc/passwd"),
        *("a//b", "name\n", "a/../b", ".hidden"),
    ],
)
def test_spec_and_core_agree_on_names(spec: Spec, name: str) -> None:
    assert (spec.validate_component("ModelName", name) == []) == is_valid_model_name(name)


def test_options_are_typed(spec: Spec) -> None:
    props = spec.schema("Options")["properties"]
    integers = "num_ctx num_batch num_gpu main_gpu num_thread num_keep seed num_predict top_k "
    integers += "repeat_last_n mirostat"
    numbers = "top_p min_p typical_p temperature repeat_penalty presence_penalty "
    numbers += "frequency_penalty tfs_z mirostat_tau mirostat_eta"
    booleans = "use_mmap use_mlock numa penalize_newline low_vram vocab_only"
    for names, kind in ((integers, "integer"), (numbers, "number"), (booleans, "boolean")):
        for name in names.split():
            assert props[name]["type"] == kind, name
    assert props["stop"] == {"type": "array", "items": {"type": "string"}}


def test_requests_ignore_unknown_fields(spec: Spec) -> None:
    for op in spec.operations.values():
        content = op.raw.get("requestBody", {}).get("content", {})
        for example in content.get(JSON, {}).get("examples", {}).values():
            body = example["value"] | {"an_unknown_field": [1, "two"]}
            assert spec.validate_request(op.operation_id, body) == [], op.operation_id
    for name, schema in spec.document["components"]["schemas"].items():
        if name.endswith("Request"):
            nodes = [n for n in _walk(schema) if isinstance(n, dict)]
            assert all(n.get("additionalProperties") is not False for n in nodes), name


# ---------------------------------------------------------------- responses
@pytest.mark.parametrize("op_id", OPERATIONS)
def test_every_operation_declares_guard_statuses(spec: Spec, op_id: str) -> None:
    statuses = spec.operation(op_id).statuses
    assert "403" in statuses and "405" in statuses
    assert any(s in statuses for s in ("200", "201"))
    if op_id in INFERENCE or op_id in ("openaiChatCompletions", "openaiCompletions", *COMPAT):
        assert "503" in statuses


@pytest.mark.parametrize("op_id", OPERATIONS)
def test_error_bodies_use_the_right_envelope(spec: Spec, op_id: str) -> None:
    op = spec.operation(op_id)
    wanted = "OpenAIError" if op_id in OPENAI else "Error"
    if op_id == "anthropicMessages":
        wanted = "AnthropicError"  # Anthropic's own envelope, {"type": "error", "error": {...}}
    for status, response in op.raw["responses"].items():
        if status.startswith(("4", "5")) and JSON in response.get("content", {}):
            ref = response["content"][JSON]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{wanted}", (op_id, status)


@pytest.mark.parametrize("op_id", OPERATIONS)
def test_streaming_declares_both_bodies(spec: Spec, op_id: str) -> None:
    op = spec.operation(op_id)
    assert op.stream_content_type == STREAMING.get(op_id)
    if op_id in STREAMING:
        assert set(op.content_types(200)) == {JSON, STREAMING[op_id]}


def test_native_json_request_bodies(spec: Spec) -> None:
    for op_id, op in spec.operations.items():
        if not op.has_request_body:
            continue
        content = op.raw["requestBody"]["content"]
        expected = "application/octet-stream" if op_id == "createBlob" else JSON
        assert list(content) == [expected], op_id


# ---------------------------------------------------------------- examples
@pytest.mark.parametrize("op_id", OPERATIONS)
def test_every_operation_has_examples(spec: Spec, op_id: str) -> None:
    op = spec.operation(op_id)
    if op.has_request_body:
        for ctype, content in op.raw["requestBody"]["content"].items():
            assert content.get("examples"), f"{op_id} request {ctype}"
    for status in ("200", "201"):
        for ctype, content in op.raw["responses"].get(status, {}).get("content", {}).items():
            assert content.get("examples"), f"{op_id} {status} {ctype}"
    documented = [
        c for s in ("200", "201") for c in op.raw["responses"].get(s, {}).get("content", {})
    ]
    # Only empty-bodied successes (HEAD of a blob, copy, delete, blob upload) lack content.
    if not documented:
        assert op_id in {"headBlob", "copy", "delete", "createBlob"}


def test_stream_examples_are_lists_of_lines(spec: Spec) -> None:
    for op_id, ctype in STREAMING.items():
        content = spec.operation(op_id).raw["responses"]["200"]["content"][ctype]
        for name, example in content["examples"].items():
            assert isinstance(example["value"], list) and len(example["value"]) > 1, name


def test_every_example_matches_its_schema(spec: Spec) -> None:
    assert example_issues(spec) == []


def test_example_check_catches_a_bad_example(spec: Spec) -> None:
    document = copy.deepcopy(spec.document)
    generate = document["paths"]["/api/generate"]["post"]
    generate["requestBody"]["content"][JSON]["examples"]["simple"]["value"]["stream"] = "yes"
    line = {"model": "m", "created_at": "2025-01-01T00:00:00Z", "response": "x"}
    generate["responses"]["200"]["content"][NDJSON]["examples"]["stream"]["value"].append(line)
    blob = document["paths"]["/api/blobs/{digest}"]["parameters"][0]
    blob["examples"]["colon"]["value"] = "md5:abc"
    problems = example_issues(Spec(document))
    assert len(problems) == 3
    assert any("request example simple: $.stream" in p for p in problems)
    assert any("application/x-ndjson example stream: $: 'done'" in p for p in problems)
    assert any("parameter digest example colon" in p for p in problems)


# ---------------------------------------------------------------- stream lines
TS = "2025-02-08T11:02:55.115275Z"
METRICS = {
    "total_duration": 302810709,
    "load_duration": 13315375,
    "prompt_eval_count": 47,
    "prompt_eval_duration": 132000000,
    "eval_count": 30,
    "eval_duration": 156000000,
}
ASSISTANT = {"role": "assistant", "content": ""}
GOOD_LINES: list[tuple[str, Any]] = [
    ("generate", {"model": "m", "created_at": TS, "response": "The", "done": False}),
    ("generate", {"model": "m", "created_at": TS, "response": "", "thinking": "hm", "done": False}),
    ("generate", {"model": "m", "created_at": TS, "response": "", "done": True, **METRICS}),
    (
        "generate",
        {"model": "m", "created_at": TS, "response": "", "done": True, "done_reason": "length"},
    ),
    (
        "generate",
        {"model": "m", "created_at": TS, "response": "", "done": True, "done_reason": "load"},
    ),
    (
        "generate",
        {"model": "m", "created_at": TS, "response": "", "done": True, "done_reason": "unload"},
    ),
    ("generate", {"error": "an error was encountered while running the model: unexpected EOF"}),
    (
        "chat",
        {"model": "m", "created_at": TS, "message": {**ASSISTANT, "content": "Hi"}, "done": False},
    ),
    (
        "chat",
        {"model": "m", "created_at": TS, "message": ASSISTANT, "done": True, "done_reason": "stop"}
        | METRICS,
    ),
    (
        "chat",
        {"model": "m", "created_at": TS, "message": ASSISTANT, "done": True, "done_reason": "load"},
    ),
    ("chat", {"error": "boom"}),
    ("pull", {"status": "pulling manifest"}),
    ("pull", {"status": "pulling 2977e9705f4b", "digest": "sha256:" + "2" * 64, "total": 333}),
    ("pull", {"status": "success"}),
    ("pull", {"error": "pull model manifest: file does not exist"}),
    ("push", {"status": "pushing manifest"}),
    ("create", {"status": "using existing layer sha256:" + "a" * 64}),
    ("create", {"status": "success"}),
    ("openaiChatCompletions", "[DONE]"),
    (
        "openaiChatCompletions",
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
    ),
    ("openaiCompletions", "[DONE]"),
]
BAD_LINES: list[tuple[str, Any, str, str]] = [
    # a final line that lost its `done`
    ("generate", {"model": "m", "created_at": TS, "response": "", **METRICS}, "$", "required"),
    ("chat", {"model": "m", "created_at": TS, "message": ASSISTANT}, "$", "required"),
    # load/unload lines carry no metrics
    (
        "generate",
        {"model": "m", "created_at": TS, "response": "", "done": True, "done_reason": "load"}
        | {"eval_count": 30},
        "$.eval_count",
        "not",
    ),
    (
        "generate",
        {"model": "m", "created_at": TS, "response": "", "done": True, "done_reason": "weird"},
        "$.done_reason",
        "enum",
    ),
    (
        "generate",
        {"model": "m", "created_at": "...", "response": "", "done": False},
        "$.created_at",
        "format",
    ),
    (
        "generate",
        {"model": "m", "created_at": TS, "response": 1, "done": False},
        "$.response",
        "type",
    ),
    ("generate", {"error": 500}, "$.error", "type"),
    (
        "chat",
        {"model": "m", "created_at": TS, "message": {"role": "user", "content": ""}, "done": False},
        "$.message.role",
        "const",
    ),
    ("chat", {"model": "m", "created_at": TS, "done": False}, "$", "required"),
    ("pull", {"status": 3}, "$.status", "type"),
    ("pull", {"status": "pulling x", "total": -1}, "$.total", "minimum"),
    ("pull", {"digest": "sha256:" + "a" * 64}, "$", "required"),
    ("push", {"status": "success", "error": 1}, "$.error", "type"),
    ("openaiChatCompletions", "[NOPE]", "$", "const"),
    ("openaiChatCompletions", {"object": "chat.completion.chunk"}, "$", "required"),
    ("openaiCompletions", {"error": {"message": "x"}}, "$.error", "required"),
]


@pytest.mark.parametrize(("op_id", "line"), GOOD_LINES)
def test_stream_line_accepted(spec: Spec, op_id: str, line: Any) -> None:
    assert spec.validate_stream_line(op_id, line) == []


@pytest.mark.parametrize(("op_id", "line", "path", "rule"), BAD_LINES)
def test_stream_line_rejected(spec: Spec, op_id: str, line: Any, path: str, rule: str) -> None:
    issues = spec.validate_stream_line(op_id, line)
    assert issues, line
    assert (issues[0].path, issues[0].rule) == (path, rule), issues


def test_non_streamed_answers(spec: Spec) -> None:
    final = {"model": "m", "created_at": TS, "response": "x", "done": True, "done_reason": "stop"}
    assert spec.validate_response("generate", 200, final | METRICS) == []
    assert spec.validate_response("generate", 200, final | {"done": False}) != []
    assert spec.validate_response("pull", 200, {"status": "success"}) == []
    assert spec.validate_response("pull", 200, {"status": "writing manifest"}) != []
    assert spec.validate_response("generate", 404, {"error": "model 'x' not found"}) == []
    assert spec.validate_response("openaiChatCompletions", 400, {"error": "flat"}) != []


# ---------------------------------------------------------------- seed documents
# Copied from /work/shared/seeds/ (the example outputs in 001_*.txt and 002_*.txt).
# Fixed copy artefacts, nothing else:
# * generate_no_stream.json: the "context" array held the placeholder comment
#   "//a long array of numbers here" (not JSON); it now holds five token ids.
# * chat_stream.json: "created_at" was elided as "..." on every line; each line now has a
#   timestamp. The third line, wrapped over three lines in the text, is joined into one.
# * pull_stream.json: the four pretty-printed objects are the last four NDJSON lines.
SEED_RESPONSES = [
    ("generate_no_stream.json", "generate", JSON),
    ("chat_no_stream.json", "chat", JSON),
    ("chat_stream.json", "chat", NDJSON),
    ("tags.json", "listModels", JSON),
    ("show.json", "show", JSON),
    ("pull_stream.json", "pull", NDJSON),
]


@pytest.mark.parametrize(("fixture", "op_id", "ctype"), SEED_RESPONSES)
def test_seed_responses_validate(spec: Spec, fixture: str, op_id: str, ctype: str) -> None:
    body = json.loads((SEEDS / fixture).read_text())
    if ctype == JSON:
        assert spec.validate_response(op_id, 200, body) == []
    else:
        assert isinstance(body, list) and body
        for line in body:
            assert spec.validate_stream_line(op_id, line) == [], line


def test_seed_requests_validate(spec: Spec) -> None:
    requests = json.loads((SEEDS / "requests.json").read_text())
    assert len(requests) >= 20
    for entry in requests:
        assert spec.validate_request(entry["operation"], entry["body"]) == [], entry


# ---------------------------------------------------------------- CLI
def test_cli_spec_validate() -> None:
    assert main(["spec", "validate"]) == 0


def test_cli_spec_validate_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "openapi.yaml"
    broken.write_text("openapi: 3.1.0\ninfo: [\n")
    assert main(["spec", "validate", str(broken)]) != 0


@pytest.mark.parametrize("wanted", ["generate", "POST /api/generate", "headBlob", "createBlob"])
def test_cli_spec_show(wanted: str) -> None:
    assert main(["spec", "show", wanted]) == 0


def test_cli_spec_show_unknown() -> None:
    assert main(["spec", "show", "nosuch"]) != 0


def test_spec_parses_the_same_with_every_yaml_parser() -> None:
    """libyaml tolerates a '?' inside flow collections that PyYAML's pure-Python
    parser (and stricter YAML tools) refuse; the spec must read the same everywhere."""
    import yaml

    from ollama_harness.core.spec import default_spec_path

    text = default_spec_path().read_text(encoding="utf-8")
    pure = yaml.load(text, Loader=yaml.SafeLoader)
    if hasattr(yaml, "CSafeLoader"):
        assert pure == yaml.load(text, Loader=yaml.CSafeLoader)


def test_no_schema_keyword_is_a_stray_yaml_key() -> None:
    """An unquoted comma in a flow-mapping description splits it into a key with a
    null value; in a schema (not an example) that is always a typo."""
    from ollama_harness.core.spec import load_spec

    strays: list[str] = []

    def walk(node: object, path: str, in_example: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                inside = in_example or key in ("example", "examples")
                if value is None and not inside:
                    strays.append(f"{path}.{key}")
                walk(value, f"{path}.{key}", inside)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]", in_example)

    walk(load_spec().document, "$", False)
    assert not strays, strays
