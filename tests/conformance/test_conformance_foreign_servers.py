"""Quirky but legitimate servers give no required failure (issue: false failures).

Each test puts the correct mock behind a proxy with one quirk that an independent
Ollama-compatible server (or real Ollama) legitimately has, runs the checks the
quirk touches, and requires: no required failure, the checks that meet the
quirk actually ran (passed, not skipped), and the quirk actually fired.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ollama_harness.conformance.registry import Check, all_checks
from ollama_harness.conformance.results import RunResult
from ollama_harness.conformance.runner import run_suite
from ollama_harness.conformance.target import TargetOptions
from ollama_harness.mockserver.testing import MockServer

from .quirky_servers import QuirkProxy, path_name

pytestmark = pytest.mark.slow


def _checks(*areas: str, ids: Iterable[str] = ()) -> list[Check]:
    wanted = set(ids)
    return [c for c in all_checks() if c.area in areas or c.id in wanted]


def _run(proxy: QuirkProxy, checks: list[Check], **options: object) -> RunResult:
    run = run_suite(TargetOptions(url=proxy.url, **options), checks)  # type: ignore[arg-type]
    required = run.failing("required")
    assert not required, "\n".join(f"{r.check_id}: {r.reason}\n{r.excerpt}" for r in required)
    return run


def _passed(run: RunResult, *check_ids: str) -> None:
    outcomes = {r.check_id: (r.outcome, r.reason) for r in run.results}
    for check_id in check_ids:
        assert outcomes[check_id][0] == "passed", (check_id, outcomes[check_id])


def test_connection_closed_after_every_error_answer(quirk_mock: MockServer) -> None:
    checks = _checks(
        "errors",
        "basics",
        ids=("properties.generate_invalid_bodies", "properties.chat_invalid_bodies"),
    )
    with QuirkProxy(quirk_mock.url, "close-after-error") as proxy:
        run = _run(proxy, checks)
    assert proxy.applied["close-after-error"] > 50
    assert not run.failing(), [(r.check_id, r.reason) for r in run.failing()]
    _passed(run, "errors.generate_malformed_bodies", "properties.chat_invalid_bodies")


def test_model_names_that_are_file_paths(quirk_mock: MockServer) -> None:
    model = path_name("smollm2:135m")
    checks = _checks(
        "inference",
        "openai",
        ids=(
            "basics.show_schema",
            "errors.thinking_unsupported",
            "properties.generate_valid_bodies",
            "properties.chat_valid_bodies",
            "properties.embed_valid_bodies",
        ),
    )
    with QuirkProxy(quirk_mock.url, "path-names") as proxy:
        run = _run(proxy, checks)
        # --model picks the path-named model; /v1/models/{id} must encode it.
        single = _run(proxy, _checks(ids=("openai.list_and_retrieve_models",)), models=[model])
    assert proxy.applied["path-names"] > 20
    assert all(m["name"].startswith("/srv/models/") for m in run.models)
    _passed(run, "properties.generate_valid_bodies", "inference.generate_stream")
    _passed(run, "errors.thinking_unsupported", "inference.ps_shows_load_and_unload")
    _passed(single, "openai.list_and_retrieve_models")


def test_no_capability_advertised(quirk_mock: MockServer) -> None:
    checks = _checks("basics", "inference", "openai")
    with QuirkProxy(quirk_mock.url, "no-capabilities") as proxy:
        run = _run(proxy, checks)
    assert proxy.applied["no-capabilities"] >= 8
    assert all(not m["capabilities"] for m in run.models)
    # Ollama embeds with any model: the embedding checks run on a completion model.
    _passed(run, "inference.embed_vectors_normalised", "openai.embeddings")
    _passed(run, "inference.generate_stream")


def test_head_errors_labelled_application_json(quirk_mock: MockServer) -> None:
    checks = _checks("fuzz", ids=("lifecycle.blobs_head_and_post", "basics.head_root"))
    with QuirkProxy(quirk_mock.url, "head-errors-json") as proxy:
        run = _run(proxy, checks)
    assert proxy.applied["head-errors-json"] > 0
    _passed(run, "fuzz.schemathesis_safe_operations", "lifecycle.blobs_head_and_post")


def test_ollamas_500_for_wrongly_typed_options(quirk_mock: MockServer) -> None:
    checks = _checks(ids=("errors.generate_wrong_types", "errors.chat_wrong_types"))
    with QuirkProxy(quirk_mock.url, "options-500") as proxy:
        run = _run(proxy, checks)
    assert proxy.applied["options-500"] >= 4
    assert not run.failing()
    _passed(run, "errors.generate_wrong_types", "errors.chat_wrong_types")
    # The variant seen is reported.
    notes = [n for r in run.results for n in r.notes]
    assert any("500" in n and "handleScheduleError" in n for n in notes), notes


def test_current_capability_wording(quirk_mock: MockServer) -> None:
    checks = _checks(ids=("errors.insert_unsupported", "errors.tools_unsupported"))
    with QuirkProxy(quirk_mock.url, "qualified-capability-words") as proxy:
        run = _run(proxy, checks)
    assert proxy.applied["qualified-capability-words"] >= 2
    assert not run.failing()  # not even a recommended one: both wordings are Ollama's
    _passed(run, "errors.insert_unsupported", "errors.tools_unsupported")


def test_inference_only_deployment_at_the_core_level(quirk_mock: MockServer) -> None:
    core = [c for c in all_checks() if c.level == "core"]
    with QuirkProxy(quirk_mock.url, "core-routes-only") as proxy:
        run = _run(proxy, core, models=["smollm2:135m"], level="core")
    assert proxy.applied["core-routes-only"] >= 2  # discovery's /api/version, /api/show
    assert "/api/version answered 404 (no version)" in run.notes
    # Core checks touch core routes only: none of them meets a 404 from the router.
    assert not run.failing(), [(r.check_id, r.reason) for r in run.failing()]
    _passed(run, "errors.non_local_host_refused", "inference.generate_stream")
