"""The project's conformance suite, level core, against the reference server."""

from __future__ import annotations

import pytest

from ollama_harness.conformance.runner import run_suite
from ollama_harness.conformance.target import TargetOptions
from tests.realserver.conftest import MODEL, RunningServer


@pytest.mark.reference
@pytest.mark.slow
def test_conformance_core_passes(server: RunningServer) -> None:
    run = run_suite(TargetOptions(url=server.url, models=[MODEL], level="core", timeout=120))
    problems = [
        f"{r.check_id}: {r.outcome}: {r.reason}"
        for r in run.results
        if r.outcome in ("failed", "error")
    ]
    assert problems == []
    assert run.counts()["passed"] >= 40  # generate and chat, streamed and not, errors...


@pytest.mark.reference
@pytest.mark.slow
def test_conformance_full_with_the_mock_registry_passes(server: RunningServer) -> None:
    """Issue 6's proof: level full, pull and push through the mock in registry mode."""
    from ollama_harness.mockserver.testing import MockServer

    with MockServer(blob_size=4096) as registry:
        options = TargetOptions(
            url=server.url, models=[MODEL], level="full", registry=registry.url, timeout=120
        )
        run = run_suite(options)
    problems = [
        f"{r.check_id}: {r.outcome}: {r.reason}"
        for r in run.results
        if r.outcome in ("failed", "error")
    ]
    assert problems == []
    passed = {r.check_id for r in run.results if r.outcome == "passed"}
    assert "lifecycle.push_and_pull_registry" in passed, sorted(passed)
    assert run.counts()["passed"] >= 80


@pytest.mark.reference
@pytest.mark.slow
def test_conformance_compat_areas_pass(server: RunningServer) -> None:
    """Issue 13: /v1/messages and /v1/responses on the reference server, all passing.

    The bundled 135M model answers the tool round trips' question in prose: the checks
    note it and still run the tool_result / function_call_output leg.
    """
    from ollama_harness.conformance.registry import all_checks

    checks = all_checks("anthropic") + all_checks("responses")
    options = TargetOptions(url=server.url, models=[MODEL], level="full", timeout=120)
    run = run_suite(options, checks)
    problems = [
        f"{r.check_id}: {r.outcome}: {r.reason}"
        for r in run.results
        if r.outcome in ("failed", "error")
    ]
    assert problems == []
    assert run.counts()["passed"] == len(checks) >= 10
