"""Schemathesis runs the spec against the server.

Schemathesis knows JSON, not NDJSON or SSE, so responses are judged by one
registered check, :func:`spec_conformance`, which validates a JSON body against
the declared response and every NDJSON line / SSE chunk against the stream
schema, through :mod:`ollama_harness.core.spec` like every other check. Only
operations that cannot destroy anything are fuzzed: random bodies for create,
copy, delete, pull or push could touch models the suite did not create.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ollama_harness.conformance.outcome import CheckFailed
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target
from ollama_harness.core.spec import NDJSON, SSE, load_spec

SAFE_OPERATIONS = (
    "getRoot",
    "getVersion",
    "listModels",
    "listRunning",
    "generate",
    "chat",
    "embed",
    "embeddings",
    "show",
    "headBlob",
    "openaiChatCompletions",
    "openaiCompletions",
    "openaiEmbeddings",
    "openaiListModels",
    "openaiRetrieveModel",
)


def stream_issues(
    op_id: str, media_type: str, status: int, text: str, method: str = "GET"
) -> list[str]:
    """Why a response body breaks the spec (empty when it conforms).

    A HEAD answer has no body, whatever its content type says (Ollama's gin
    labels HEAD errors ``application/json`` too), so it is never parsed.
    """
    spec = load_spec()
    problems: list[str] = []
    if method.upper() == "HEAD":
        return problems
    if status == 200 and media_type == NDJSON:
        for number, raw in enumerate(text.rstrip("\n").split("\n"), 1):
            try:
                line = json.loads(raw)
            except ValueError:
                return [f"NDJSON line {number} is not a JSON object: {raw[:80]!r}"]
            problems += [f"line {number}: {i}" for i in spec.validate_stream_line(op_id, line)]
    elif status == 200 and media_type == SSE:
        events = [e for e in text.split("\n\n") if e.strip()]
        if not events or events[-1].strip() != "data: [DONE]":
            problems.append("the event stream does not end with data: [DONE]")
        for event in events[:-1]:
            if not event.startswith("data: "):
                return [f"an event without data: framing: {event[:80]!r}"]
            chunk = json.loads(event[6:])
            problems += [str(i) for i in spec.validate_stream_line(op_id, chunk)]
    elif media_type == "application/json":
        try:
            body = json.loads(text)
        except ValueError:
            return ["application/json body that is not JSON"]
        try:
            problems += [str(i) for i in spec.validate_response(op_id, status, body)]
        except KeyError as exc:
            problems.append(str(exc.args[0]))
    return problems


_REGISTERED: dict[str, Any] = {}


def _checks() -> list[Any]:
    """Schemathesis' own checks plus ours, registered once per process."""
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        status_code_conformance,
    )

    if "spec" not in _REGISTERED:

        @schemathesis.check
        def spec_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
            media_type = (response.headers.get("content-type") or [""])[0].split(";")[0]
            problems = stream_issues(
                case.operation.definition.raw["operationId"],
                media_type.strip().lower(),
                response.status_code,
                response.text,
                str(case.method),
            )
            if problems:
                raise AssertionError("; ".join(problems[:3]))
            return None

        _REGISTERED["spec"] = spec_conformance
    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        _REGISTERED["spec"],
    ]


def _schema(t: Target) -> Any:
    import schemathesis

    raw = copy.deepcopy(load_spec().document)  # from_dict rewrites keys in place
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=t.client.base_url)
    return schema


@check("fuzz", "generate")
def schemathesis_safe_operations(t: Target) -> None:
    """Schemathesis: generated requests to every non-destructive operation conform.

    Source: spec/openapi.yaml of this project, which transcribes docs/api.md and the
    api/types.go structs; statuses from the server/routes.go handlers.
    """
    from hypothesis import HealthCheck, Phase, assume, given, settings
    from schemathesis import GenerationMode

    schema = _schema(t)
    checks = _checks()
    modes = (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if t.thorough
        else [GenerationMode.POSITIVE]
    )
    failures: list[str] = []
    for op_id in SAFE_OPERATIONS:
        op = load_spec().operation(op_id)
        operation = schema[op.path][op.method]
        for mode in modes:
            if mode == GenerationMode.NEGATIVE and not (op.has_request_body or "{" in op.path):
                continue  # nothing to make invalid: no body, no path parameter
            profile = settings(
                max_examples=100 if t.thorough else 4,
                deadline=None,
                database=None,
                derandomize=not t.thorough,
                phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if t.thorough else []),
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            )

            @profile
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                # A "/" inside a path parameter makes another path (a 404 from the
                # router), not a request to this operation.
                params = [str(v).lower() for v in (case.path_parameters or {}).values()]
                assume(not any("/" in v or "%2f" in v for v in params))
                _tame_case(case)
                response = case.call(base_url=t.client.base_url, timeout=60)
                case.validate_response(response, checks=checks)

            try:
                fuzz()
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups failures
                failures.append(f"{op_id} ({mode.value}): {_first_line(exc)}")
    if failures:
        raise CheckFailed(
            f"{len(failures)} operation(s) failed under Schemathesis", "\n".join(failures)
        )


def _tame_case(case: Any) -> None:
    """Keep generation short: a generated body that names a real model decodes 2 tokens."""
    body = case.body
    if isinstance(body, dict) and "model" in body:
        options = body.get("options", {})
        if isinstance(options, dict):
            case.body = {**body, "options": {**options, "num_predict": 2}}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split("\n")[:6])[:600]
