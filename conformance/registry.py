"""The catalogue of checks: each is a plain function of a :class:`Target`.

Checks are registered with :func:`check` and run two ways: as pytest items (the
plugin parametrizes one test per area over them) and directly by
:func:`run_check`, which the project's own mutation test uses to run hundreds of
checks without nesting pytest sessions. The check id (``area.name``) is the
stable name reports and the mutation catalogue refer to.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from conformance.outcome import CheckFailed, CheckSkipped
from conformance.results import CheckResult
from conformance.target import LEVELS, Target

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

    def __str__(self) -> str:
        return self.id


_CATALOGUE: dict[str, Check] = {}


def check(area: str, operation: str, level: str = "full") -> Callable[[CheckFunc], CheckFunc]:
    """Register a check; its id is ``area.<function name>``, its title the docstring."""
    if area not in AREAS or level not in LEVELS:
        raise ValueError(f"unknown area {area!r} or level {level!r}")

    def register(func: CheckFunc) -> CheckFunc:
        check_id = f"{area}.{func.__name__}"
        if check_id in _CATALOGUE:
            raise ValueError(f"check {check_id} registered twice")
        title = (func.__doc__ or check_id).strip().splitlines()[0]
        _CATALOGUE[check_id] = Check(check_id, area, operation, title, level, func)
        return func

    return register


def all_checks(area: str | None = None) -> list[Check]:
    """Every registered check (importing the check modules once), optionally one area's."""
    for name in AREAS:
        importlib.import_module(f"conformance.checks.{name}")
    found = [c for c in _CATALOGUE.values() if area is None or c.area == area]
    return sorted(found, key=lambda c: (AREAS.index(c.area), c.id))


def run_check(chk: Check, target: Target) -> CheckResult:
    """Run one check outside pytest and classify its outcome."""
    started = time.perf_counter()
    outcome, reason, excerpt = "passed", "", ""
    try:
        target.require_level(chk.level)
        chk.func(target)
    except CheckSkipped as exc:
        outcome, reason = "skipped", exc.reason
    except CheckFailed as exc:
        outcome, reason, excerpt = "failed", exc.reason, exc.excerpt
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
    )
