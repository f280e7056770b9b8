"""The pytest side of a run: discovery, results, server-down and interrupt handling, reports.

Registered only when ``--ollama-url`` is given. It discovers the server before
the first check (and prints what discovery found at the top of the output),
collects every check's result, stops the run when the server stops answering,
turns SIGTERM into the same orderly stop as Ctrl-C, and writes the reports in
every case, a partial run included.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from ollama_harness.conformance.http import server_answers
from ollama_harness.conformance.report import root_causes, score_lines, write_reports
from ollama_harness.conformance.results import CheckResult, RunResult
from ollama_harness.conformance.target import Target, TargetOptions, discover
from ollama_harness.core.spec import load_spec

TARGET_KEY = pytest.StashKey[Target]()
#: Set by ``ollama-harness check`` so the report quotes its command, not pytest's.
COMMAND_KEY = pytest.StashKey[str]()
RUN_KEY = pytest.StashKey[RunResult]()

#: Exit statuses of a run (``ollama-harness check`` returns them too).
EXIT_OK = 0
EXIT_FAILED = 1  # a required check failed (any check, with --strict)
EXIT_INTERRUPTED = 2  # SIGINT or SIGTERM: the partial report is written
EXIT_SERVER_DOWN = 6  # the server stopped answering: the remaining checks did not run


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


# Set by a SIGINT or SIGTERM during a run. The KeyboardInterrupt raised for it can
# land inside a check whose library swallows it (Hypothesis and Schemathesis may
# report it as a failure of the example, or end their run quietly): the session
# then still sees the flag after that check and stops the run as interrupted.
_signalled = threading.Event()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _signalled.set()
    raise KeyboardInterrupt(f"signal {signum}")


class ConformanceSession:
    """A pytest plugin object, registered only when ``--ollama-url`` is given."""

    def __init__(self, config: pytest.Config, options: TargetOptions, strict: bool) -> None:
        self.config = config
        self.options = options
        self.strict = strict
        self.results: dict[str, CheckResult] = {}
        self.items: list[pytest.Item] = []
        self.started = time.perf_counter()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.target: Target | None = None
        self.down_since: str | None = None
        self.interrupted = False
        self.report_dir = Path(str(config.getoption("ollama_report")))
        self._previous_handlers: dict[int, Any] = {}
        self._session: pytest.Session | None = None

    # -- start: discovery, printed first --
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session
        _signalled.clear()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous_handlers[signum] = signal.signal(signum, _raise_interrupt)
        self.target = discover(self.options)
        self.config.stash[TARGET_KEY] = self.target
        writer = self.config.pluginmanager.get_plugin("terminalreporter")
        if writer is not None:
            for line in self.header_lines():
                writer.write_line(line)

    def header_lines(self) -> list[str]:
        target = self.target
        lines = [
            f"ollama conformance: {self.options.url} level={self.options.level}"
            + (" thorough" if self.options.thorough else "")
            + (" strict" if self.strict else "")
            + f" request-timeout={self.options.timeout:g}s"
        ]
        if target is not None:
            lines.append(f"server: {self._run_shell().server_label()}")
            lines += [f"discovery: {note}" for note in target.discovery_notes]
        return lines

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = [i for i in session.items if _check_of(i) is not None]

    # -- each check --
    def record(self, nodeid: str, result: CheckResult) -> None:
        """Called by the bridge with the result of the check it ran."""
        result.nodeid = nodeid
        if _signalled.is_set():
            # The signal came during this check: whatever it reports is not its verdict.
            result.outcome, result.reason = "not_run", "not run: the run was interrupted"
        self.results[nodeid] = result
        if result.unreachable and self.down_since is None and not server_answers(self.options.url):
            self.down_since = result.check_id

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        # A check that crashed counts as an error in pytest's line as in the reports.
        result = self.results.get(report.nodeid)
        if report.when == "call" and result is not None and result.outcome == "error":
            return "error", "E", "ERROR"
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup" and report.outcome != "passed":
            item = next((i for i in self.items if i.nodeid == report.nodeid), None)
            chk = _check_of(item) if item is not None else None
            if chk is not None and report.nodeid not in self.results:
                skipped = report.skipped
                text = report.longreprtext.strip().splitlines()
                self.results[report.nodeid] = _result_of(
                    chk,
                    "skipped" if skipped else "error",
                    _skip_reason(report) if skipped else (text[-1] if text else "setup error"),
                    nodeid=report.nodeid,
                )
        if report.when == "call" and _signalled.is_set() and not self.interrupted:
            self.interrupted = True
            if self._session is not None:
                self._session.shouldstop = "interrupted by a signal"
        if report.when == "call" and self.down_since is not None:
            session = self._session
            if session is not None and not session.shouldstop:
                session.shouldstop = f"the server stopped answering during {self.down_since}"
                self._banner()

    def _banner(self) -> None:
        writer = self.config.pluginmanager.get_plugin("terminalreporter")
        text = (
            f"SERVER DOWN since {self.down_since}: {self.options.url} refused or ignored "
            "two health probes; the remaining checks are not run"
        )
        if writer is not None:
            writer.write_line("")
            writer.write_sep("!", text, red=True, bold=True)
        else:
            print(text, file=sys.stderr)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        # pytest's own stop (shouldstop, set on a dead server) arrives here as
        # Session.Interrupted; only a real Ctrl-C or SIGTERM interrupts the run.
        if not excinfo.errisinstance(pytest.Session.Interrupted):
            self.interrupted = True

    # -- end: the reports, always --
    def _run_shell(self) -> RunResult:
        target = self.target
        return RunResult(
            url=self.options.url,
            level=self.options.level,
            command=self.config.stash.get(COMMAND_KEY, None) or command_line(),
            started=self.started_at,
            duration=time.perf_counter() - self.started,
            server_version=target.version if target else None,
            spec_version=load_spec().version,
            models=[
                {"name": m.name, "capabilities": sorted(m.capabilities or [])}
                for m in (target.models if target else [])
            ],
            notes=list(target.discovery_notes) if target else [],
            server=(target.server_name if target else "") or "",
            strict=self.strict,
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for signum, previous in self._previous_handlers.items():
            signal.signal(signum, previous)
        self._previous_handlers.clear()
        if self.target is not None:
            self.target.client.close()
        if not self.items and not self.results:
            return
        # pytest reports its own stop (shouldstop, on a dead server) as INTERRUPTED
        # too: only Ctrl-C or SIGTERM, seen by pytest_keyboard_interrupt, is one.
        run = self._run_shell()
        run.interrupted = self.interrupted
        run.server_down_since = self.down_since
        why = (
            f"not run: server down since {self.down_since}"
            if self.down_since
            else "not run: the run was interrupted"
            if self.interrupted
            else "not run"
        )
        results: list[CheckResult] = []
        for item in self.items:
            result = self.results.get(item.nodeid)
            chk = _check_of(item)
            if result is None and chk is not None:
                result = _result_of(chk, "not_run", why, nodeid=item.nodeid)
            if result is not None:
                results.append(result)
        run.results = results
        self.config.stash[RUN_KEY] = run
        junit = self.config.getoption("ollama_junit_xml", default=None)
        write_reports(run, self.report_dir, Path(junit) if junit else None)
        if self.interrupted:
            session.exitstatus = EXIT_INTERRUPTED
        elif self.down_since is not None:
            session.exitstatus = EXIT_SERVER_DOWN
        elif exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.TESTS_FAILED,
            pytest.ExitCode.INTERRUPTED,
        ):
            session.exitstatus = EXIT_OK if run.ok else EXIT_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        run = self.config.stash.get(RUN_KEY, None)
        if run is None:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "ollama conformance")
        write(
            f"{len(run.results)} checks against {run.url} ({run.server_label()}): {run.summary()}"
        )
        for line in score_lines(run):
            write(line)
        causes = root_causes(run)
        if causes:
            write("failures by root cause:")
            for cause, results in causes:
                ids = ", ".join(r.check_id for r in results)
                write(f"  {cause} ({len(results)} checks: {ids})")
        if run.server_down_since:
            write(f"run stopped: server down since {run.server_down_since}")
        if run.interrupted:
            write("run interrupted: the reports cover the checks that ran")
        verdict = "PASS" if run.ok else "FAIL"
        write(f"verdict: {verdict} (exit {_exit_of(run)}); reports written to {self.report_dir}/")


def _exit_of(run: RunResult) -> int:
    if run.interrupted:
        return EXIT_INTERRUPTED
    if run.server_down_since:
        return EXIT_SERVER_DOWN
    return EXIT_OK if run.ok else EXIT_FAILED


def _check_of(item: pytest.Item | None) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("check") if callspec is not None else None


def _result_of(chk: Any, outcome: str, reason: str, *, nodeid: str) -> CheckResult:
    return CheckResult(
        check_id=chk.id,
        area=chk.area,
        operation=chk.operation,
        title=chk.title,
        outcome=outcome,
        reason=reason,
        nodeid=nodeid,
        severity=chk.severity,
        source=chk.source,
    )


def command_line() -> str:
    """How this process was started, as a person would type it."""
    program = Path(sys.argv[0])
    head = [program.name]
    if program.name == "__main__.py":  # python -m pytest, python -m ollama_harness
        head = ["python", "-m", program.parent.name]
    return shlex.join([*head, *sys.argv[1:]])
