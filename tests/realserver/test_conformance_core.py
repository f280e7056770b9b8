"""The project's conformance suite, level core, against the reference server."""

from __future__ import annotations

import pytest

from conformance.runner import run_suite
from conformance.target import TargetOptions
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
