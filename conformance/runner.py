"""Run checks without pytest: for embedding the suite (demo, the mutation proof).

``ollama-harness check`` and the pytest plugin are the normal way in; this
runner executes the same registered checks in-process and returns a
:class:`RunResult` the report writers accept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from ollama_harness.conformance.http import server_answers
from ollama_harness.conformance.registry import Check, all_checks, run_check
from ollama_harness.conformance.results import CheckResult, RunResult
from ollama_harness.conformance.target import Target, TargetOptions, discover
from ollama_harness.core.spec import load_spec


def run_suite(
    options: TargetOptions,
    checks: Iterable[Check] | None = None,
    *,
    command: str = "ollama_harness.conformance.runner.run_suite",
    stop_at_first_failure: bool = False,
    target: Target | None = None,
    strict: bool = False,
) -> RunResult:
    """Discover the server and run ``checks`` (default: all) against it.

    Stops like ``ollama-harness check`` does: when the server stops answering
    (the remaining checks are ``not_run``), or on Ctrl-C (the result is marked
    interrupted and returned, never lost).
    """
    started = time.perf_counter()
    run = RunResult(
        url=options.url,
        level=options.level,
        command=command,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        spec_version=load_spec().version,
        strict=strict,
    )
    own_target = target is None
    target = target or discover(options)
    try:
        run.server_version = target.version
        run.models = [
            {"name": m.name, "capabilities": sorted(m.capabilities or [])} for m in target.models
        ]
        run.notes = list(target.discovery_notes)
        run.server = target.server_name
        todo = list(all_checks() if checks is None else checks)
        try:
            for number, chk in enumerate(todo):
                result = run_check(chk, target)
                run.results.append(result)
                if result.unreachable and not server_answers(options.url):
                    run.server_down_since = chk.id
                    why = f"not run: server down since {chk.id}"
                    run.results += [_not_run(c, why) for c in todo[number + 1 :]]
                    break
                if stop_at_first_failure and result.outcome in ("failed", "error"):
                    break
        except KeyboardInterrupt:
            run.interrupted = True
            done = {r.check_id for r in run.results}
            run.results += [
                _not_run(c, "not run: the run was interrupted") for c in todo if c.id not in done
            ]
    finally:
        if own_target:
            target.client.close()
    run.duration = time.perf_counter() - started
    return run


def _not_run(chk: Check, reason: str) -> CheckResult:
    return CheckResult(
        check_id=chk.id,
        area=chk.area,
        operation=chk.operation,
        title=chk.title,
        outcome="not_run",
        reason=reason,
        severity=chk.severity,
        source=chk.source,
    )
