"""Routes every deployment of the full API answers: root, version, tags, ps, show."""

from __future__ import annotations

from ollama_harness.conformance import expect
from ollama_harness.conformance.outcome import defer
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target
from ollama_harness.core.names import is_valid_model_name


@check("basics", "getRoot", severity="recommended")
def root_says_running(t: Target) -> None:
    """GET / answers 200 text/plain 'Ollama is running'.

    Source: server/routes.go GenerateRoutes (r.GET("/") writes "Ollama is running");
    clients and load balancers probe it as a health check, but its words are Ollama's own.
    """
    ex = t.client.get("/")
    expect.status(ex, 200)
    expect.media_type(ex, "text/plain")
    if ex.text != "Ollama is running":
        raise expect.fail(f"body {ex.text[:80]!r}, expected 'Ollama is running'", ex)


@check("basics", "headRoot")
def head_root(t: Target) -> None:
    """HEAD / answers 200 with no body.

    Source: server/routes.go GenerateRoutes (r.HEAD("/")); RFC 9110 9.3.2 (no body).
    """
    ex = t.client.request("HEAD", "/")
    expect.status(ex, 200)
    if ex.body:
        raise expect.fail("HEAD answered with a body", ex)


@check("basics", "getVersion")
def version_schema(t: Target) -> None:
    """GET /api/version matches the spec and names a version.

    Source: server/routes.go GenerateRoutes (r.GET("/api/version") answers
    {"version": version.Version}); docs/api.md "Version".
    """
    body = expect.json_body(t.client.get("/api/version"), "getVersion")
    if not str(body.get("version", "")).strip():
        raise expect.fail("empty version", excerpt=str(body))


@check("basics", "listModels")
def tags_schema(t: Target) -> None:
    """GET /api/tags matches the spec.

    Source: server/routes.go ListHandler (api.ListResponse of api/types.go);
    docs/api.md "List Local Models".
    """
    expect.json_body(t.client.get("/api/tags"), "listModels")


@check("basics", "listModels", severity="recommended")
def tags_names_follow_the_grammar(t: Target) -> None:
    """Every name /api/tags lists follows Ollama's model-name grammar.

    Source: types/model/name.go ParseName (host/namespace/model:tag), docs/api.md
    "Model names"; servers that name models by file path legitimately differ.
    """
    ex = t.client.get("/api/tags")
    body = expect.json_body(ex, "listModels")
    odd = [
        entry[key]
        for entry in body.get("models", [])
        for key in ("name", "model")
        if key in entry and not is_valid_model_name(entry[key])
    ]
    if odd:
        raise expect.fail(f"{len(odd)} listed names are not valid model names: {odd[:5]}", ex)


@check("basics", "headTags")
def head_tags(t: Target) -> None:
    """HEAD /api/tags answers 200 with no body.

    Source: server/routes.go GenerateRoutes (r.HEAD("/api/tags", s.ListHandler)).
    """
    ex = t.client.request("HEAD", "/api/tags")
    expect.status(ex, 200)
    if ex.body:
        raise expect.fail("HEAD answered with a body", ex)


@check("basics", "listRunning")
def ps_schema(t: Target) -> None:
    """GET /api/ps matches the spec.

    Source: server/routes.go PsHandler (api.ProcessResponse of api/types.go);
    docs/api.md "List Running Models".
    """
    expect.json_body(t.client.get("/api/ps"), "listRunning")


@check("basics", "show")
def show_schema(t: Target) -> None:
    """POST /api/show of every discovered model matches the spec and lists capabilities.

    Source: server/routes.go ShowHandler and GetModelInfo (api.ShowResponse with
    Capabilities); docs/api.md "Show Model Information". The capabilities list is
    recommended: versions before it existed, and other servers, leave it out.
    """
    if not t.models:
        t.model_with("completion")  # skips with the reason
    for model in t.models:
        ex = t.client.post("/api/show", {"model": model.name})
        body = expect.json_body(ex, "show")
        if not isinstance(body.get("capabilities"), list):
            defer(expect.fail("show gives no capabilities list", ex))


@check("basics", "show", severity="recommended")
def show_is_case_insensitive(t: Target) -> None:
    """Model names are case-insensitive for lookup: show of the upper-cased name works.

    Source: server/routes_test.go TestManifestCaseSensitivity (any casing of a name
    finds the one stored model).
    """
    model = t.model_with("completion")
    ex = t.client.post("/api/show", {"model": model.upper()})
    expect.json_body(ex, "show")
