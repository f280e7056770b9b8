"""Run checks without pytest: for embedding the suite (demo, the mutation proof).

``ollama-harness check`` and the pytest plugin are the normal way in; this
runner executes the same registered checks in-process and returns a
:class:`RunResult` the report writers accept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from conformance.registry import Check, all_checks, run_check
from conformance.results import RunResult
from conformance.target import Target, TargetOptions, discover
from ollama_harness.core.spec import load_spec


def run_suite(
    options: TargetOptions,
    checks: Iterable[Check] | None = None,
    *,
    command: str = "conformance.runner.run_suite",
    stop_at_first_failure: bool = False,
    target: Target | None = None,
) -> RunResult:
    """Discover the server and run ``checks`` (default: all) against it."""
    started = time.perf_counter()
    run = RunResult(
        url=options.url,
        level=options.level,
        command=command,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        spec_version=load_spec().version,
    )
    own_target = target is None
    target = target or discover(options)
    try:
        run.server_version = target.version
        run.models = [
            {"name": m.name, "capabilities": sorted(m.capabilities or [])} for m in target.models
        ]
        run.notes = list(target.discovery_notes)
        for chk in all_checks() if checks is None else checks:
            result = run_check(chk, target)
            run.results.append(result)
            if stop_at_first_failure and result.outcome in ("failed", "error"):
                break
    finally:
        if own_target:
            target.client.close()
    run.duration = time.perf_counter() - started
    return run
