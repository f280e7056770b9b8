"""The catalogue of checks: each is a plain function of a :class:`Target`.

Checks are registered with :func:`check` and run two ways: as pytest items (the
plugin parametrizes one test per area over them) and directly by
:func:`run_check`, which the project's own mutation test uses to run hundreds of
checks without nesting pytest sessions. The check id (``area.name``) is the
stable name reports and the mutation catalogue refer to.

Every check states where its expectation comes from, in a ``Source:`` line of
its docstring (a file and function of Ollama's Go source, or ``docs/api.md``),
and a severity: ``required`` (schemas, statuses, stream framing, semantics a
client relies on) or ``recommended`` (exact wording, optional fields,
Ollama-specific niceties). Registration refuses a check without a source.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ollama_harness.conformance.outcome import (
    CheckFailed,
    CheckSkipped,
    ServerUnreachable,
    take_deferred,
    take_notes,
)
from ollama_harness.conformance.results import SEVERITIES, CheckResult
from ollama_harness.conformance.target import LEVELS, Target

CheckFunc = Callable[[Target], None]

#: Areas in report order; each is a module of :mod:`conformance.checks`.
AREAS = (
    "basics",
    "inference",
    "errors",
    "lifecycle",
    "concurrency",
    "openai",
    "anthropic",
    "responses",
    "properties",
    "fuzz",
)


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    operation: str
    title: str
    level: str
    func: CheckFunc
    severity: str = "required"
    source: str = ""

    def __str__(self) -> str:
        return self.id


_CATALOGUE: dict[str, Check] = {}


def source_of(doc: str | None) -> str:
    """The ``Source:`` paragraph of a docstring, joined into one line ('' when absent)."""
    lines = (doc or "").strip().splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("Source:"):
            parts = [line.strip().removeprefix("Source:").strip()]
            for more in lines[number + 1 :]:
                if not more.strip():
                    break
                parts.append(more.strip())
            return " ".join(parts)
    return ""


def check(
    area: str, operation: str, level: str = "full", severity: str = "required"
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check; its id is ``area.<function name>``, its title the docstring."""
    if area not in AREAS or level not in LEVELS or severity not in SEVERITIES:
        raise ValueError(f"unknown area {area!r}, level {level!r} or severity {severity!r}")

    def register(func: CheckFunc) -> CheckFunc:
        check_id = f"{area}.{func.__name__}"
        if check_id in _CATALOGUE:
            raise ValueError(f"check {check_id} registered twice")
        source = source_of(func.__doc__)
        if not source:
            raise ValueError(f"check {check_id} does not say where its expectation comes from")
        title = (func.__doc__ or check_id).strip().splitlines()[0]
        _CATALOGUE[check_id] = Check(
            check_id, area, operation, title, level, func, severity, source
        )
        return func

    return register


def all_checks(area: str | None = None) -> list[Check]:
    """Every registered check (importing the check modules once), optionally one area's."""
    for name in AREAS:
        importlib.import_module(f"conformance.checks.{name}")
    found = [c for c in _CATALOGUE.values() if area is None or c.area == area]
    return sorted(found, key=lambda c: (AREAS.index(c.area), c.id))


def run_check(chk: Check, target: Target) -> CheckResult:
    """Run one check on a connection of its own and classify its outcome.

    Whatever the check leaves behind (a connection the server closed, a
    half-read stream) goes with its client, never to the next check.
    """
    started = time.perf_counter()
    outcome, reason, excerpt, cause, unreachable = "passed", "", "", "", False
    severity = chk.severity
    take_notes()
    take_deferred()
    target.renew_client()
    try:
        target.require_level(chk.level)
        chk.func(target)
        deferred = take_deferred()
        if deferred:
            # Only recommended points (exact wording) differ: a recommended failure.
            outcome, severity = "failed", "recommended"
            reason = f"{len(deferred)} recommended difference(s): " + "; ".join(
                d.reason for d in deferred[:3]
            )
            excerpt = "\n\n".join(d.excerpt for d in deferred)
            cause = deferred[0].cause
    except CheckSkipped as exc:
        outcome, reason = "skipped", exc.reason
    except CheckFailed as exc:
        outcome, reason, excerpt, cause = "failed", exc.reason, exc.excerpt, exc.cause
        unreachable = isinstance(exc, ServerUnreachable)
    except Exception as exc:  # a crash in a check is a result too, never a lost run
        outcome, reason = "error", f"{type(exc).__name__}: {exc}"
        excerpt = "".join(traceback.format_exception(exc)[-3:])
    return CheckResult(
        check_id=chk.id,
        area=chk.area,
        operation=chk.operation,
        title=chk.title,
        outcome=outcome,
        reason=reason,
        excerpt=excerpt,
        duration=time.perf_counter() - started,
        severity=severity,
        source=chk.source,
        cause=cause or (f"{chk.operation}: {reason}" if outcome == "failed" else ""),
        notes=take_notes(),
        unreachable=unreachable,
    )
