"""A run against a server that dies, hangs or is interrupted still ends quickly and reports.

The CLI runs as a child process (``python -m ollama_harness check``), as a CI
user runs it; the servers are the correct mock behind the quirk proxy of
``quirky_servers.py``, in this process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from ollama_harness.conformance.http import ServerClient
from ollama_harness.conformance.registry import all_checks
from ollama_harness.conformance.report import root_causes, write_reports
from ollama_harness.conformance.results import RunResult
from ollama_harness.conformance.runner import run_suite
from ollama_harness.conformance.session import EXIT_INTERRUPTED, EXIT_SERVER_DOWN
from ollama_harness.conformance.target import TargetOptions
from ollama_harness.mockserver.testing import MockServer
from tests.support import with_default_sigint

from .quirky_servers import QuirkProxy


def _check_command(url: str, report: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ollama_harness",
        "check",
        url,
        "--report",
        str(report),
        *extra,
    ]


def _reports_are_valid(report: Path) -> RunResult:
    run = RunResult.read(report)
    data = json.loads((report / "conformance.json").read_text())
    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    counts = data["counts"]
    # One definition of the counts: JSON and JUnit agree (JUnit's skipped holds "not run").
    assert int(suite.get("tests", -1)) == len(run.results)
    assert int(suite.get("failures", -1)) == counts["failed"]
    assert int(suite.get("errors", -1)) == counts["error"]
    assert int(suite.get("skipped", -1)) == counts["skipped"] + counts["not_run"]
    assert run.summary() in (report / "conformance.md").read_text()
    assert "</html>" in (report / "conformance.html").read_text()
    return run


@pytest.mark.slow
def test_a_server_that_dies_stops_the_run_with_a_banner_and_a_report(
    tmp_path: Path, quirk_mock: MockServer
) -> None:
    with QuirkProxy(quirk_mock.url, die_after=80) as proxy:
        done = subprocess.run(
            _check_command(proxy.url, tmp_path, "--request-timeout", "10"),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        ended = time.monotonic()
    output = done.stdout + done.stderr
    assert proxy.died_at is not None, output
    assert ended - proxy.died_at < 30, f"{ended - proxy.died_at:.1f} s after the server died"
    assert done.returncode == EXIT_SERVER_DOWN, output
    assert output.count("SERVER DOWN since") == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) < 120, output
    run = _reports_are_valid(tmp_path)
    assert run.server_down_since is not None
    not_run = [r for r in run.results if r.outcome == "not_run"]
    assert len(not_run) > 20
    assert {r.reason for r in not_run} == {f"not run: server down since {run.server_down_since}"}
    # Only the check that met the dead server failed, not every one after it.
    assert len(run.failing()) <= 2, [(r.check_id, r.reason) for r in run.failing()]


@pytest.mark.slow
def test_a_server_that_ignores_num_predict_fails_within_the_deadline(
    quirk_mock: MockServer,
) -> None:
    wanted = ("inference.generate_stream", "inference.chat_non_stream", "basics.version_schema")
    checks = [c for c in all_checks() if c.id in wanted]
    with QuirkProxy(quirk_mock.url, "endless-streams") as proxy:
        started = time.perf_counter()
        run = run_suite(TargetOptions(url=proxy.url, timeout=3.0), checks)
        elapsed = time.perf_counter() - started
    assert proxy.applied["endless-streams"] >= 2
    results = {r.check_id: r for r in run.results}
    for check_id in ("inference.generate_stream", "inference.chat_non_stream"):
        result = results[check_id]
        assert result.outcome == "failed", result
        assert "num_predict" in result.reason, result.reason
        assert result.duration < 3.0 + 2.0, result.duration
    # A stream it limited fails as soon as it runs past the limit, not at the deadline.
    assert "went past" in results["inference.generate_stream"].reason
    assert "deadline" in results["inference.chat_non_stream"].reason
    # The run goes on after the hung checks and completes.
    assert results["basics.version_schema"].outcome == "passed"
    assert run.server_down_since is None and not run.interrupted
    assert elapsed < 20


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_writes_a_valid_partial_report(
    tmp_path: Path, quirk_mock: MockServer, signum: int
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        with_default_sigint(_check_command(quirk_mock.url, tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    progressing = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("discovery:"):
                progressing.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert progressing.wait(60), "".join(lines)
        time.sleep(4)  # a few checks in
        proc.send_signal(signum)
        returncode = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    output = "".join(lines)
    assert returncode == EXIT_INTERRUPTED, output
    run = _reports_are_valid(tmp_path)
    assert run.interrupted
    counts = run.counts()
    assert counts["passed"] > 0 and counts["not_run"] > 0, counts
    assert "INTERRUPTED" in (tmp_path / "conformance.md").read_text()


class _DropsSecondRequest:
    """Answers the first request of each connection, keeps it open, then drops the
    connection when a second request arrives on it: the race of a server closing
    a kept-alive connection just as the client reuses it, made deterministic."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    @staticmethod
    def _one(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            body = b'{"version":"0.0.1"}'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            conn.recv(65536)  # the second request: dropped without an answer


def test_a_signal_a_check_swallowed_still_interrupts_the_run() -> None:
    """Hypothesis and Schemathesis may catch the KeyboardInterrupt a signal raises
    inside a check (a full run once ended with exit 0, another with the fuzz check
    failed): the session sees the signal after that check, stops, and reports the
    check as not run."""
    from types import SimpleNamespace

    from ollama_harness.conformance import session as session_module
    from ollama_harness.conformance.results import CheckResult

    fake_session = SimpleNamespace(shouldstop=False)
    conformance = session_module.ConformanceSession.__new__(session_module.ConformanceSession)
    conformance.results, conformance.items, conformance.interrupted = {}, [], False
    conformance.down_since = None
    conformance.options = SimpleNamespace(url="http://x")  # type: ignore[assignment]
    conformance._session = fake_session  # type: ignore[assignment]
    swallowed = CheckResult("fuzz.schemathesis", "fuzz", "op", "title", "failed", "interrupted")
    try:
        with pytest.raises(KeyboardInterrupt):
            session_module._raise_interrupt(signal.SIGINT, None)  # caught by "the library"
        conformance.record("test_fuzz.py::check", swallowed)
        report = SimpleNamespace(when="call", outcome="failed", nodeid="test_fuzz.py::check")
        conformance.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    finally:
        session_module._signalled.clear()
    assert conformance.results["test_fuzz.py::check"].outcome == "not_run"
    assert conformance.interrupted
    assert fake_session.shouldstop


@pytest.mark.slow
def test_a_signal_during_the_fuzz_check_ends_the_run_as_interrupted(
    tmp_path: Path, ollama_mock: MockServer
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        with_default_sigint(_check_command(ollama_mock.url, tmp_path, "-k", "fuzz")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("discovery:"):
                break
        time.sleep(1.5)  # inside Schemathesis' run (it takes several seconds)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, output
    run = _reports_are_valid(tmp_path)
    assert run.interrupted
    assert [r.outcome for r in run.results] == ["not_run"], [r.reason for r in run.results]


def test_a_request_on_a_connection_the_server_dropped_is_sent_again() -> None:
    server = _DropsSecondRequest()
    client = ServerClient(server.url, timeout=5)
    try:
        first = client.get("/api/version")
        second = client.get("/api/version")  # reuses the connection, which the server drops
    finally:
        client.close()
        server.sock.close()
    assert first.status == second.status == 200
    assert server.connections == 2  # the second answer came on a fresh connection


@pytest.mark.slow
def test_one_missing_route_is_one_root_cause_in_the_report(
    tmp_path: Path, quirk_mock: MockServer
) -> None:
    checks = [
        c for c in all_checks() if c.area == "lifecycle" or c.id == "errors.create_invalid_names"
    ]
    with QuirkProxy(quirk_mock.url, "create-501") as proxy:
        run = run_suite(TargetOptions(url=proxy.url), checks)
    causes = dict(root_causes(run))
    affected = causes.get("POST /api/create answered 501: not implemented", [])
    assert len(affected) >= 5, causes.keys()
    assert "errors.create_invalid_names" in {r.check_id for r in affected}
    write_reports(run, tmp_path)
    markdown = (tmp_path / "conformance.md").read_text()
    assert markdown.count("POST /api/create answered 501: not implemented —") == 1
