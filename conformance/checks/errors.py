"""Refusals: exact statuses and ``{"error"}`` bodies, as real Ollama gives them.

Expected messages come from the behaviour reference and, for decoder and type
errors, from :mod:`ollama_harness.core.errors`, which models Go's ``encoding/json``
wording once for the whole project.

Why one module of ~560 lines: it is the refusals area of the suite, one
registered check (mostly a table of variants) per rule; the report scores
checks per area, so the area stays one file.
"""

from __future__ import annotations

import secrets
from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.checks._inference import CHAT, GENERATE, Api
from ollama_harness.conformance.outcome import CheckSkipped
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target
from ollama_harness.core.errors import ApiError, decode_body, request_error
from ollama_harness.core.names import parse_model_name
from ollama_harness.core.spec import load_spec

#: Names the grammar refuses; the first ones would escape the model store as paths.
INVALID_NAMES = ("../../etc/passwd", "..%2F..%2Fsecret", "a/b/c/d", ":latest", "x" * 81 + ":t")


def _unknown() -> str:
    return f"conformance-missing-{secrets.token_hex(4)}"


def _capability_words(model: str, capability: str) -> dict[str, str]:
    """Both wordings of a refused capability, the current one first.

    Current Ollama's scheduleRunner writes ``model.Name`` (the fully qualified
    name) before CheckCapabilities' error; older versions quoted the request's name.
    """
    words: dict[str, str] = {}
    try:
        name = parse_model_name(model)
        full = f"{name.host}/{name.namespace}/{name.model}:{name.tag}"
        words[f"{full} does not support {capability}"] = "current Ollama: the qualified name"
    except ValueError:
        pass
    words[f'"{model}" does not support {capability}'] = "older Ollama: the quoted request name"
    return words


def _expected(op_id: str, body: Any) -> ApiError:
    """What Ollama answers for a body that breaks the spec (per the shared model)."""
    error = request_error(op_id, body, load_spec().validate_request(op_id, body))
    if error is None:
        raise AssertionError(f"the check's own {op_id} body is valid: {body}")
    return error


# -- missing and unknown models --
@check("errors", "generate", level="core")
def generate_unknown_model(t: Target) -> None:
    """generate of an unknown model: 404 model 'x' not found.

    Source: server/routes.go GenerateHandler (getExistingName fails: 404 "model '%s' not
    found"); wording recommended.
    """
    name = _unknown()
    ex = t.client.post("/api/generate", {"model": name, "prompt": "hi"})
    expect.error_body(ex, "generate", 404, f"model '{name}' not found")


@check("errors", "generate", level="core")
def generate_missing_model(t: Target) -> None:
    """generate without a model: 404 model '' not found.

    Source: server/routes.go GenerateHandler (parseAndValidateModelRef of "":
    writeModelRefParseError with 404 "model '%s' not found"); wording recommended.
    """
    ex = t.client.post("/api/generate", {"prompt": "hi"})
    expect.error_body(ex, "generate", 404, "model '' not found")


@check("errors", "chat", level="core")
def chat_unknown_model(t: Target) -> None:
    """chat of an unknown model: 404 model 'x' not found.

    Source: server/routes.go ChatHandler (404 "model '%s' not found"); wording
    recommended.
    """
    name = _unknown()
    ex = t.client.post(
        "/api/chat", {"model": name, "messages": [{"role": "user", "content": "hi"}]}
    )
    expect.error_body(ex, "chat", 404, f"model '{name}' not found")


@check("errors", "chat", level="core")
def chat_missing_model(t: Target) -> None:
    """chat without a model: 400 model is required.

    Source: server/routes.go ChatHandler (writeModelRefParseError with 400 "model is
    required"); wording recommended.
    """
    ex = t.client.post("/api/chat", {"messages": []})
    expect.error_body(ex, "chat", 400, "model is required")


@check("errors", "show")
def show_unknown_and_missing(t: Target) -> None:
    """show: unknown model 404 model 'x' not found; missing model 400 model is required.

    Source: server/routes.go ShowHandler (400 "model is required", 404 "model '%s' not
    found"); wording recommended.
    """
    name = _unknown()
    expect.error_body(
        t.client.post("/api/show", {"model": name}), "show", 404, f"model '{name}' not found"
    )
    expect.error_body(t.client.post("/api/show", {}), "show", 400, "model is required")


@check("errors", "delete")
def delete_unknown_and_missing(t: Target) -> None:
    """delete: unknown model 404; missing model 400 model is required.

    Source: server/routes.go DeleteHandler (404 "model '%s' not found");
    server/routes_delete_test.go TestDelete; wording recommended.
    """
    name = _unknown()
    ex = t.client.request("DELETE", "/api/delete", {"model": name})
    expect.error_body(ex, "delete", 404, f"model '{name}' not found")
    ex = t.client.request("DELETE", "/api/delete", {})
    expect.error_body(ex, "delete", 400, "model is required")


@check("errors", "copy")
def copy_unknown_source(t: Target) -> None:
    """copy of an unknown source: 404 model "x" not found; nothing created.

    Source: server/routes.go CopyHandler (CopyModel os.ErrNotExist: 404 "model %q not
    found"); wording recommended.
    """
    name = _unknown()
    ex = t.client.post("/api/copy", {"source": name, "destination": t.new_model_name("never")})
    expect.error_body(ex, "copy", 404, f'model "{name}" not found')


@check("errors", "embed")
def embed_unknown_model(t: Target) -> None:
    """embed / embeddings of an unknown model: 404, model "x" not found, try pulling it first.

    Source: server/routes.go EmbedHandler and EmbeddingsHandler (404; "model '%s' not
    found" from getExistingName in current versions, handleScheduleError's "model %q not
    found, try pulling it first" in others: both accepted).
    """
    name = _unknown()
    words = {
        f'model "{name}" not found, try pulling it first': "handleScheduleError",
        f"model '{name}' not found": "current EmbedHandler: getExistingName fails first",
    }
    ex = t.client.post("/api/embed", {"model": name, "input": "x"})
    expect.error_body(ex, "embed", 404, words)
    ex = t.client.post("/api/embeddings", {"model": name, "prompt": "x"})
    expect.error_body(ex, "embeddings", 404, words)


@check("errors", "embed")
def embed_invalid_input(t: Target) -> None:
    """embed with a non-string input: 400 invalid input type.

    Source: server/routes.go EmbedHandler (a non-string input: 400 "invalid input
    type").
    """
    model = t.embedding_model()
    ex = t.client.post("/api/embed", {"model": model, "input": [1, 2]})
    expect.error_body(ex, "embed", 400, "invalid input type")


@check("errors", "pull")
def pull_unknown_model_streams_error(t: Target) -> None:
    """pull of a model no registry has: a streamed {"error"} line, no success.

    Source: server/routes.go PullHandler (errors after the stream began are one
    {"error"} line, streamResponse); docs/api.md "Pull a Model".
    """
    # An unreachable registry host keeps the check offline and quick.
    name = f"127.0.0.1:9/conformance/{_unknown()}:latest"
    ex = t.client.post("/api/pull", {"model": name, "insecure": True}, timeout=60)
    if ex.status != 200:
        expect.error_body(ex, "pull", ex.status)  # refused before streaming: still {"error"}
        if ex.status < 400:
            raise expect.fail("pull of an unknown model did not fail", ex)
        return
    lines = expect.ndjson_lines(ex, "pull", final_key="status", allow_error=True)
    if "error" not in lines[-1]:
        raise expect.fail("pull of an unknown model did not end with an error line", ex)


# -- invalid names --
def _invalid_names(t: Target, path: str, op_id: str, field: str, message: str) -> None:
    def one(name: str) -> None:
        body: dict[str, Any] = {field: name}
        if op_id == "generate":
            body["prompt"] = "hi"
        ex = t.client.request("DELETE" if op_id == "delete" else "POST", path, body)
        expect.error_body(ex, op_id, 400, message.format(name=name))

    expect.each("invalid names", INVALID_NAMES, one)


@check("errors", "generate", level="core")
def generate_invalid_names(t: Target) -> None:
    """generate with invalid names (path traversal included): 400 invalid model name.

    Source: server/routes.go GenerateHandler (errtypes.InvalidModelNameErrMsg: 400
    "invalid model name"); types/model/name.go Name.IsValid.
    """
    _invalid_names(t, "/api/generate", "generate", "model", "invalid model name")


@check("errors", "chat", level="core")
def chat_invalid_names(t: Target) -> None:
    """chat with invalid names (path traversal included): 400 invalid model name.

    Source: server/routes.go ChatHandler (400 "invalid model name"); types/model/name.go
    Name.IsValid.
    """

    def one(name: str) -> None:
        ex = t.client.post("/api/chat", {"model": name, "messages": []})
        expect.error_body(ex, "chat", 400, "invalid model name")

    expect.each("invalid names", INVALID_NAMES, one)


@check("errors", "show")
def show_invalid_names(t: Target) -> None:
    """show with invalid names: 400 invalid model name.

    Source: server/routes.go ShowHandler (400 "invalid model name"); types/model/name.go
    Name.IsValid.
    """
    _invalid_names(t, "/api/show", "show", "model", "invalid model name")


@check("errors", "delete")
def delete_invalid_names(t: Target) -> None:
    """delete with invalid names: 400 name "x" is invalid.

    Source: server/routes.go DeleteHandler (model.ErrUnqualifiedName: 400 "name %q is
    invalid").
    """
    _invalid_names(t, "/api/delete", "delete", "model", 'name "{name}" is invalid')


@check("errors", "create")
def create_invalid_names(t: Target) -> None:
    """create with invalid names: 400 invalid model name; nothing is written.

    Source: server/create.go CreateHandler (400 "invalid model name");
    types/model/name.go Name.IsValid.
    """
    base = t.model_with("completion")

    def one(name: str) -> None:
        ex = t.client.post("/api/create", {"model": name, "from": base, "stream": False})
        expect.error_body(ex, "create", 400, "invalid model name")

    expect.each("invalid names", INVALID_NAMES, one)


@check("errors", "copy")
def copy_invalid_destination(t: Target) -> None:
    """copy to an invalid destination: 400 destination "x" is invalid.

    Source: server/routes.go CopyHandler (400 "destination %q is invalid").
    """
    base = t.model_with("completion")

    def one(name: str) -> None:
        ex = t.client.post("/api/copy", {"source": base, "destination": name})
        expect.error_body(ex, "copy", 400, f'destination "{name}" is invalid')

    expect.each("invalid destinations", INVALID_NAMES, one)


# -- bodies --
def _bad_bodies(t: Target, api: Api) -> None:
    # Bodies whose Go decoder message is unambiguous (quoting of odd characters differs).
    def one(raw: bytes) -> None:
        expected = None
        try:
            decode_body(raw, api.op)
        except ApiError as exc:
            expected = exc
        ex = t.client.request(
            "POST", api.path, content=raw, headers={"content-type": "application/json"}
        )
        if expected is None:  # null decodes to an empty request: model missing
            if ex.status >= 500 or ex.status < 400:
                raise expect.fail(f"body {raw!r} answered {ex.status}", ex)
            expect.error_body(ex, api.op, ex.status)
            return
        expect.error_body(ex, api.op, expected.status, expected.message)

    bodies = (b"", b'{"model": ', b"xyz", b"[1, 2]", b"null")
    expect.each("malformed bodies", bodies, one)


@check("errors", "generate", level="core")
def generate_malformed_bodies(t: Target) -> None:
    """generate with an empty, truncated, non-JSON or non-object body: 400, decoder message.

    Source: server/routes.go GenerateHandler (ShouldBindJSON: io.EOF gives 400 "missing
    request body", other decoder errors 400 err.Error()).
    """
    _bad_bodies(t, GENERATE)


@check("errors", "chat", level="core")
def chat_malformed_bodies(t: Target) -> None:
    """chat with an empty, truncated, non-JSON or non-object body: 400, decoder message.

    Source: server/routes.go ChatHandler (ShouldBindJSON: 400 "missing request body" or
    the decoder's error).
    """
    _bad_bodies(t, CHAT)


def _wrong_types(t: Target, api: Api) -> None:
    model = t.model_with("completion")
    base = api.body(model, "hi")
    variants: list[dict[str, Any]] = [
        {**base, "stream": "yes"},
        {**base, "options": {"num_predict": "many"}},
        {**base, "options": {"temperature": "hot"}},
        {**base, "keep_alive": "soon"},
        {**base, "keep_alive": True},
        {**base, "think": "maybe"},
    ]
    variants.append({**base, "prompt": 5} if api.op == "generate" else {**base, "messages": "hi"})

    def one(body: dict[str, Any]) -> None:
        wanted = _expected(api.op, body)
        ex = t.client.post(api.path, body)
        statuses = {wanted.status: "refused as bad input"}
        if isinstance(body.get("options"), dict):
            # Ollama decodes options only in scheduleRunner; modelOptions' error falls
            # through handleScheduleError to a 500 (with the same words).
            statuses[500] = "Ollama: modelOptions error via handleScheduleError"
        expect.error_body(ex, api.op, statuses, wanted.message)

    expect.each("wrongly typed bodies", variants, one)


@check("errors", "generate", level="core")
def generate_wrong_types(t: Target) -> None:
    """generate with wrongly typed fields, options, keep_alive, think: 400, Ollama's words.

    Source: server/routes.go GenerateHandler (decoder errors 400); options: api/types.go
    Options.FromMap ("option %q must be of type ..."), which scheduleRunner's
    modelOptions error turns into a 500 through handleScheduleError: 400 and 500 both
    accepted, the one seen is noted.
    """
    _wrong_types(t, GENERATE)


@check("errors", "chat", level="core")
def chat_wrong_types(t: Target) -> None:
    """chat with wrongly typed fields, options, keep_alive, think: 400, Ollama's words.

    Source: server/routes.go ChatHandler (decoder errors 400); options: api/types.go
    Options.FromMap via scheduleRunner and handleScheduleError (500 in Ollama, 400
    accepted).
    """
    _wrong_types(t, CHAT)


@check("errors", "generate", level="core")
def generate_raw_with_template(t: Target) -> None:
    """generate with raw true and a template or system: 400 with an error body.

    Source: server/routes.go GenerateHandler (raw with template or system: 400 "raw mode
    does not support template, system, or context"); wording recommended.
    """
    model = t.model_with("completion")

    def one(extra: dict[str, str]) -> None:
        ex = t.client.post("/api/generate", {"model": model, "prompt": "hi", "raw": True, **extra})
        expect.error_body(
            ex, "generate", 400, "raw mode does not support template, system, or context"
        )

    expect.each("raw bodies", ({"template": "{{ .Prompt }}"}, {"system": "be brief"}), one)


@check("errors", "generate", level="core")
def generate_top_logprobs_range(t: Target) -> None:
    """generate with top_logprobs outside 0-20: 400.

    Source: server/routes.go GenerateHandler (400 "top_logprobs must be between 0 and
    20"); wording recommended.
    """
    model = t.model_with("completion")

    def one(value: int) -> None:
        body = {"model": model, "prompt": "hi", "logprobs": True, "top_logprobs": value}
        expect.error_body(
            t.client.post("/api/generate", body),
            "generate",
            400,
            "top_logprobs must be between 0 and 20",
        )

    expect.each("top_logprobs values", (21, -1), one)


# -- capabilities --
@check("errors", "chat", level="core")
def thinking_unsupported(t: Target) -> None:
    """think true on a model without thinking: 400 "m" does not support thinking.

    Source: server/routes.go ChatHandler (400 "%q does not support thinking"); wording
    recommended.
    """
    model = t.model_without("thinking", having="completion")
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "think": True}
    expect.error_body(
        t.client.post("/api/chat", body), "chat", 400, f'"{model}" does not support thinking'
    )


@check("errors", "generate", level="core")
def insert_unsupported(t: Target) -> None:
    """suffix on a model without insert: 400 "m" does not support insert.

    Source: server/routes.go scheduleRunner ("%s %w" of model.Name and server/images.go
    CheckCapabilities' errCapabilities) and handleScheduleError (400); the quoted short
    name of older versions is accepted too.
    """
    model = t.model_without("insert", having="completion")
    body = {"model": model, "prompt": "a", "suffix": "b"}
    expect.error_body(
        t.client.post("/api/generate", body), "generate", 400, _capability_words(model, "insert")
    )


@check("errors", "chat", level="core")
def tools_unsupported(t: Target) -> None:
    """tools on a model without tools: 400 "m" does not support tools.

    Source: server/routes.go ChatHandler via scheduleRunner and handleScheduleError (400
    "<qualified name> does not support tools"; older versions quoted the name: both
    accepted).
    """
    model = t.model_without("tools", having="completion")
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    expect.error_body(
        t.client.post("/api/chat", body), "chat", 400, _capability_words(model, "tools")
    )


@check("errors", "generate", level="core")
def generate_on_embedding_model(t: Target) -> None:
    """generate on an embedding-only model: 400 "m" does not support generate.

    Source: server/routes.go GenerateHandler (400 "%q does not support generate");
    wording recommended.
    """
    model = t.model_without("completion", having="embedding")
    body = {"model": model, "prompt": "hi"}
    expect.error_body(
        t.client.post("/api/generate", body),
        "generate",
        400,
        f'"{model}" does not support generate',
    )


# -- routing --
@check("errors", "generate", level="core")
def wrong_method(t: Target) -> None:
    """A known path with the wrong method: 405.

    Source: server/routes.go GenerateRoutes (r.HandleMethodNotAllowed = true: gin
    answers 405).
    """
    pairs = (("GET", "/api/generate"), ("GET", "/api/chat"), ("PUT", "/api/generate"))
    expect.each("wrong methods", pairs, lambda pair: expect.status(t.client.request(*pair), 405))


@check("errors", "listModels")
def wrong_method_management(t: Target) -> None:
    """Management paths with the wrong method: 405.

    Source: server/routes.go GenerateRoutes (r.HandleMethodNotAllowed = true: gin
    answers 405).
    """
    pairs = (("POST", "/api/tags"), ("GET", "/api/delete"), ("GET", "/api/pull"))
    expect.each("wrong methods", pairs, lambda pair: expect.status(t.client.request(*pair), 405))


@check("errors", "generate")
def unknown_path(t: Target) -> None:
    """An unknown path: 404.

    Source: server/routes.go GenerateRoutes (gin's router: 404 for a path no route
    matches).
    """
    paths = ("/api/nothing-here", "/api/generate/extra", "/v2/../api/tags-x")
    expect.each("unknown paths", paths, lambda p: expect.status(t.client.request("GET", p), 404))


@check("errors", "generate", level="core")
def non_local_host_refused(t: Target) -> None:
    """A non-local Host header on a loopback listener: 403 (DNS-rebinding guard).

    Source: server/routes.go allowedHostsMiddleware (a loopback listener answers 403 to
    a Host that is not local).
    """
    host = t.client.base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise CheckSkipped(f"the server listens on {host}, not loopback")
    # A core route: an inference-only deployment answers it too.
    body = {"model": _unknown(), "prompt": "hi"}
    ex = t.client.post("/api/generate", body, headers={"host": "evil.example.com"})
    expect.status(ex, 403)


# -- errors after the first byte --
#: The mock's fault-injection header; other servers ignore it and the check skips.
FAULT_HEADER = {"X-Mock-Fault": "error-after=2"}


def _midstream(t: Target, api: Api) -> None:
    body = api.body(t.model_with("completion"), "Tell me a story.")
    body["options"] = t.options_for_inference(8)
    ex = t.client.post(api.path, body, headers=FAULT_HEADER)
    if ex.status == 200 and b'"error"' not in ex.body:
        raise CheckSkipped("the server cannot be made to fail mid-stream (no X-Mock-Fault)")
    lines = expect.ndjson_lines(ex, api.op, allow_error=True)
    if "error" not in lines[-1]:
        raise expect.fail("an injected mid-stream failure did not end with an error line", ex)
    if any(line.get("done") is True for line in lines):
        raise expect.fail("a done: true line in a stream that failed", ex)


@check("errors", "generate", level="core")
def generate_midstream_error_framing(t: Target) -> None:
    """generate failing mid-stream: status 200, a last {"error"} line, no done line.

    Source: server/routes.go streamResponse (an error after the first byte is written as
    one {"error"} line, no done line).
    """
    _midstream(t, GENERATE)


@check("errors", "chat", level="core")
def chat_midstream_error_framing(t: Target) -> None:
    """chat failing mid-stream: status 200, a last {"error"} line, no done line.

    Source: server/routes.go streamResponse (an error after the first byte is written as
    one {"error"} line, no done line).
    """
    _midstream(t, CHAT)
