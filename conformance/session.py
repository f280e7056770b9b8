"""Collects every conformance item's outcome and writes the reports at the end."""

from __future__ import annotations

import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.report import write_reports
from conformance.results import CheckResult, RunResult
from conformance.target import Target
from ollama_harness.core.spec import load_spec

TARGET_KEY = pytest.StashKey[Target]()
#: Set by ``ollama-harness check`` so the report quotes its command, not pytest's.
COMMAND_KEY = pytest.StashKey[str]()
RUN_KEY = pytest.StashKey[RunResult]()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


class ConformanceSession:
    """A pytest plugin object, registered only when ``--ollama-url`` is given."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[CheckResult] = []
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    def pytest_report_header(self, config: pytest.Config) -> str:
        return (
            f"ollama conformance: {config.getoption('ollama_url')} "
            f"level={config.getoption('ollama_level')}"
            + (" thorough" if config.getoption("ollama_thorough") else "")
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "check_id" not in props:
            return
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            if report.skipped:
                outcome, reason, excerpt = "skipped", _skip_reason(report), ""
            elif report.failed and "reason" in props:
                outcome, reason, excerpt = "failed", str(props["reason"]), str(props["excerpt"])
            elif report.failed:
                text = report.longreprtext.strip().splitlines()
                outcome, reason = "error", (text[-1] if text else "error")
                excerpt = "\n".join(text[-8:])
            else:
                outcome, reason, excerpt = "passed", "", ""
            self.results.append(
                CheckResult(
                    check_id=str(props["check_id"]),
                    area=str(props["area"]),
                    operation=str(props["operation"]),
                    title=str(props["title"]),
                    outcome=outcome,
                    reason=reason,
                    excerpt=excerpt,
                    duration=report.duration,
                    nodeid=report.nodeid,
                )
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # Setup failures (discovery) still need the check's identity on the report.
        check = getattr(item, "callspec", None)
        chk = check.params.get("check") if check is not None else None
        if chk is not None:
            item.user_properties += [
                ("check_id", chk.id),
                ("area", chk.area),
                ("operation", chk.operation),
                ("title", chk.title),
            ]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.results:
            return
        target = self.config.stash.get(TARGET_KEY, None)
        command = self.config.stash.get(COMMAND_KEY, None) or command_line()
        run = RunResult(
            url=str(self.config.getoption("ollama_url")),
            level=str(self.config.getoption("ollama_level")),
            command=command,
            started=self.started_at,
            duration=time.perf_counter() - self.started,
            server_version=target.version if target else None,
            spec_version=load_spec().version,
            models=[
                {"name": m.name, "capabilities": sorted(m.capabilities or [])}
                for m in (target.models if target else [])
            ],
            notes=list(target.discovery_notes) if target else [],
            results=_dedupe(self.results),
        )
        self.config.stash[RUN_KEY] = run
        self.report_dir = Path(str(self.config.getoption("ollama_report")))
        write_reports(run, self.report_dir)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.config.stash.get(RUN_KEY, None)
        if run is None:
            return
        counts = run.counts()
        terminalreporter.write_sep("-", "ollama conformance")
        terminalreporter.write_line(
            f"{len(run.results)} checks against {run.url} (server {run.server_version}): "
            + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        )
        terminalreporter.write_line(f"reports written to {self.report_dir}/")


def command_line() -> str:
    """How this process was started, as a person would type it."""
    program = Path(sys.argv[0])
    head = [program.name]
    if program.name == "__main__.py":  # python -m pytest, python -m ollama_harness
        head = ["python", "-m", program.parent.name]
    return shlex.join([*head, *sys.argv[1:]])


def _dedupe(results: list[CheckResult]) -> list[CheckResult]:
    """One result per check: a setup error and a later call report of one item merge."""
    seen: dict[str, CheckResult] = {}
    for result in results:
        seen[result.nodeid or result.check_id] = result
    return list(seen.values())
