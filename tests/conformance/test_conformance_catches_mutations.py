"""The suite's proof: it passes the correct mock and catches every broken variant.

The mutation runs use the registered checks directly (no nested pytest) against a
mock with one slot and a queue of one, so the queue-limit check has something to
find; property tests and Schemathesis run only against the correct mock.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ollama_harness.conformance.registry import Check, all_checks
from ollama_harness.conformance.runner import run_suite
from ollama_harness.conformance.target import LEVELS, TargetOptions
from ollama_harness.mockserver.mutations import MUTATIONS
from ollama_harness.mockserver.testing import MockServer

SMALL_QUEUE: dict[str, Any] = {"num_parallel": 1, "max_queue": 1, "itl_ms": 1.0}
# The mock implements every route, the opt-in ones (/v1/messages, /v1/responses) too.
ALL = LEVELS[-1]


def _quick_checks() -> list[Check]:
    return [c for c in all_checks() if c.area not in ("properties", "fuzz")]


def test_the_catalogue_has_at_least_30_described_mutations() -> None:
    assert len(MUTATIONS) >= 30
    for name, mutation in MUTATIONS.items():
        assert mutation.name == name
        assert len(mutation.description) > 20, name


@pytest.mark.slow
def test_the_whole_suite_passes_against_the_correct_mock() -> None:
    started = time.perf_counter()
    with MockServer() as mock, MockServer(mutation=None, **SMALL_QUEUE) as registry:
        run = run_suite(TargetOptions(url=mock.url, registry=registry.url, level=ALL))
    elapsed = time.perf_counter() - started
    bad = [r for r in run.results if r.outcome in ("failed", "error")]
    skipped = [r for r in run.results if r.outcome == "skipped"]
    print(
        f"\n{len(run.results)} checks against the correct mock in {elapsed:.1f} s: {run.counts()}"
    )
    for result in skipped:
        print(f"  skipped {result.check_id}: {result.reason}")
    assert not bad, "\n".join(f"{r.check_id}: {r.reason}\n{r.excerpt}" for r in bad)
    # What the default mock lacks is only the queue limit (checked below).
    assert {r.check_id for r in skipped} <= {"concurrency.queue_overflow_is_503"}


def test_the_queue_limit_is_checked_against_a_small_queue() -> None:
    check = next(c for c in all_checks() if c.id == "concurrency.queue_overflow_is_503")
    with MockServer(**SMALL_QUEUE) as mock:
        run = run_suite(TargetOptions(url=mock.url), [check])
    assert run.results[0].outcome == "passed", run.results[0]


@pytest.mark.slow
def test_every_mutation_is_caught_by_a_named_check() -> None:
    # Only checks that pass against the correct mock (same settings) may catch a
    # mutation: a check failing everywhere proves nothing.
    with MockServer(**SMALL_QUEUE) as mock:
        baseline = run_suite(TargetOptions(url=mock.url, level=ALL), _quick_checks())
    # Failures of the correct mock itself are the previous tests' business; here
    # they only shrink the set of checks allowed to catch.
    broken = [r.check_id for r in baseline.results if r.outcome in ("failed", "error")]
    passing = {r.check_id for r in baseline.results if r.outcome == "passed"}
    checks = [c for c in _quick_checks() if c.id in passing]

    caught: dict[str, str] = {}
    started = time.perf_counter()
    for name in MUTATIONS:
        with MockServer(mutation=name, **SMALL_QUEUE) as mock:
            run = run_suite(
                TargetOptions(url=mock.url, level=ALL), checks, stop_at_first_failure=True
            )
        failing = [r for r in run.results if r.outcome in ("failed", "error")]
        if failing:
            caught[name] = f"{failing[0].check_id} ({failing[0].outcome}: {failing[0].reason})"
    elapsed = time.perf_counter() - started
    width = max(len(n) for n in MUTATIONS)
    print(f"\nmutation catalogue: {len(MUTATIONS)} variants, {len(checks)} checks, {elapsed:.1f} s")
    if broken:
        print(f"  (not used as catchers, failing against the correct mock: {broken})")
    for name, mutation in MUTATIONS.items():
        print(f"  {name:<{width}}  {mutation.description}")
        print(f"  {'':<{width}}  caught by: {caught.get(name, 'NOT CAUGHT')}"[:200])
    missed = sorted(set(MUTATIONS) - set(caught))
    assert not missed, f"mutations no check caught: {missed}"
