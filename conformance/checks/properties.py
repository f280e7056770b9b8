"""Property tests: bodies drawn from the spec's request schemas.

Valid bodies must never get a 5xx and every answer must match the spec; bodies
that break the schema must get a 4xx with an error body. Fields whose valid
values are still out of reach for a real small model (token ids in
``context``, images, grammars, context sizes, thread counts) are held fixed, and
generation is capped at two tokens, so the properties test the API, not the
hardware. The default profile is derandomized (the same bodies every run) and
does not shrink; ``--thorough`` draws many more, randomly, and shrinks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from ollama_harness.conformance import expect
from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.outcome import CheckFailed, CheckSkipped
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.strategies import invalid_request_strategy, request_strategy
from ollama_harness.conformance.target import Target
from ollama_harness.core.spec import NDJSON, SSE, load_spec

_SAMPLING = ("temperature", "top_k", "top_p", "min_p", "seed", "stop", "repeat_penalty")
_HELD = ("context", "images", "format", "template", "_debug_render_only", "dimensions")
#: Stands for the server's model while a body is judged against the spec: the
#: server's own names (file paths, odd tags) need not follow Ollama's grammar.
PLACEHOLDER_MODEL = "conformance-placeholder:latest"


def _profile(t: Target, examples: int) -> settings:
    if t.thorough:
        return settings(
            max_examples=examples * 10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def _tame(t: Target, op_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Hold the fields a small real model cannot take at random, point at a real model."""
    body = {k: v for k, v in body.items() if k not in _HELD}
    if "model" in body:
        body["model"] = _model_for(t, op_id)
    options = body.get("options")
    if isinstance(options, dict) or op_id in ("generate", "chat"):
        kept = {k: v for k, v in (options or {}).items() if k in _SAMPLING}
        body["options"] = {**kept, "num_predict": 2}
    if "keep_alive" in body:
        body["keep_alive"] = "5m"  # a random 0 would reload the model on every draw
    if "max_tokens" in body or (op_id.startswith("openai") and "Embed" not in op_id):
        body["max_tokens"] = 2
        body.pop("max_completion_tokens", None)
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            message.pop("images", None)
    return body


def _model_for(t: Target, op_id: str) -> str:
    return t.embedding_model() if "mbed" in op_id else t.model_with("completion")


def _path(op_id: str) -> str:
    return load_spec().operation(op_id).path


def _answer_matches_spec(ex: Exchange, op_id: str) -> None:
    if ex.status >= 500:
        raise expect.fail(f"a valid request got {ex.status}", ex)
    if ex.status == 200 and ex.media_type == NDJSON:
        expect.ndjson_lines(ex, op_id)
    elif ex.status == 200 and ex.media_type == SSE:
        expect.sse_chunks(ex, op_id)
    else:
        expect.json_body(ex, op_id, ex.status)


def _run(
    t: Target, strategy: st.SearchStrategy[Any], examples: int, test: Callable[[Any], None]
) -> None:
    """Run a property; a failure quotes the drawn body that broke it."""

    @_profile(t, examples)
    @given(strategy)
    def prop(body: Any) -> None:
        try:
            test(body)
        except CheckFailed as exc:
            raise type(exc)(
                exc.reason, f"request body: {body!r}\n{exc.excerpt}", exc.cause
            ) from None

    try:
        prop()
    except Unsatisfiable:
        raise CheckSkipped("no drawn body could be built for this server") from None


def _valid(t: Target, op_id: str, examples: int) -> None:
    spec = load_spec()
    _model_for(t, op_id)  # skip early, not per draw

    def test(body: Any) -> None:
        _answer_matches_spec(t.client.post(_path(op_id), body), op_id)

    def valid(body: Any) -> bool:
        # Judged with a placeholder name: the body is built around the server's
        # model, whatever its name looks like, instead of requiring Ollama's grammar.
        judged = {**body, "model": PLACEHOLDER_MODEL} if "model" in body else body
        return not spec.validate_request(op_id, judged)

    # Tamed inside the strategy, so a failure quotes the body actually sent.
    tamed = request_strategy(spec, op_id).map(lambda body: _tame(t, op_id, body)).filter(valid)
    _run(t, tamed, examples, test)


def _invalid(t: Target, op_id: str, examples: int) -> None:
    spec = load_spec()
    openai = op_id.startswith("openai")

    def test(body: Any) -> None:
        assume(bool(spec.validate_request(op_id, body)))
        ex = t.client.post(_path(op_id), body)
        if not 400 <= ex.status < 500:
            raise expect.fail(f"a body the spec refuses got {ex.status}, expected a 4xx", ex)
        if openai:
            expect.openai_error_body(ex, ex.status)
        else:
            expect.error_body(ex, op_id, ex.status)

    _run(t, invalid_request_strategy(spec, op_id), examples, test)


def _register(op_id: str, level: str) -> None:
    """Two checks per operation: valid bodies, invalid bodies."""
    name = op_id.lower() if not op_id.startswith("openai") else "v1_" + op_id[6:].lower()

    def valid(t: Target) -> None:
        _valid(t, op_id, 8)

    def invalid(t: Target) -> None:
        _invalid(t, op_id, 10)

    valid.__name__ = f"{name}_valid_bodies"
    valid.__doc__ = (
        f"{op_id}: bodies valid per the spec never get a 5xx; answers match the spec.\n\n"
        f"Source: api/types.go request and response structs behind {op_id}, decoded by\n"
        "ShouldBindJSON in its server/routes.go handler; docs/api.md parameters.\n"
    )
    invalid.__name__ = f"{name}_invalid_bodies"
    invalid.__doc__ = (
        f"{op_id}: bodies the spec refuses get a 4xx with an error body.\n\n"
        f"Source: server/routes.go handlers (ShouldBindJSON decoder errors answer 400\n"
        'with {"error": err.Error()}); middleware/openai.go for /v1 (openai.NewError).\n'
    )
    check("properties", op_id, level=level)(valid)
    check("properties", op_id, level=level)(invalid)


for _op, _level in (
    ("generate", "core"),
    ("chat", "core"),
    ("embed", "full"),
    ("embeddings", "full"),
    ("show", "full"),
    ("openaiChatCompletions", "full"),
    ("openaiCompletions", "full"),
    ("openaiEmbeddings", "full"),
):
    _register(_op, _level)
