"""Result files, report renderers, the report and check commands, the plugin's inertness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from ollama_harness.cli import main
from ollama_harness.commands.check import pytest_arguments
from ollama_harness.commands.report import detect_kind
from ollama_harness.conformance.report import matrix_html_fragment, render_markdown, write_reports
from ollama_harness.conformance.results import RESULT_FILE, CheckResult, RunResult
from ollama_harness.conformance.target import Target


def _run(url: str, outcome: str, reason: str = "") -> RunResult:
    return RunResult(
        url=url,
        level="full",
        command=f"ollama-harness check {url}",
        started="2026-01-01T00:00:00+00:00",
        duration=1.5,
        server_version="0.13.0",
        spec_version="1",
        results=[
            CheckResult("basics.root_says_running", "basics", "getRoot", "GET / answers", "passed"),
            CheckResult(
                "errors.unknown_path",
                "errors",
                "generate",
                "An unknown path: 404",
                outcome,
                reason,
                excerpt="GET /api/x -> 200 application/json\n<b>{}</b>" if reason else "",
            ),
        ],
    )


def test_result_round_trips_through_json(tmp_path: Path) -> None:
    run = _run("http://a", "failed", "status 200, expected 404")
    run.write(tmp_path)
    again = RunResult.read(tmp_path)
    assert again == run
    data = json.loads((tmp_path / RESULT_FILE).read_text())
    assert data["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 0, "not_run": 0}
    assert not again.ok and data["ok"] is False


def test_write_reports_writes_four_files_with_reasons_and_excerpts(tmp_path: Path) -> None:
    run = _run("http://a", "failed", "status 200, expected 404")
    paths = write_reports(run, tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        ["conformance.json", "junit.xml", "conformance.md", "conformance.html"]
    )
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "2"
    failure = suite.find("testcase[@name='errors.unknown_path']/failure")
    assert failure is not None and failure.get("message") == "status 200, expected 404"
    markdown = (tmp_path / "conformance.md").read_text()
    assert (
        "FAIL: status 200, expected 404" in markdown and "ollama-harness check http://a" in markdown
    )
    page = (tmp_path / "conformance.html").read_text()
    assert "&lt;b&gt;{}&lt;/b&gt;" in page  # the excerpt is escaped, never markup
    assert "<script" not in page and "http" not in page.split("<body>")[0]  # self-contained


def test_side_by_side_matrix_has_one_column_per_run() -> None:
    runs = [_run("http://a", "passed"), _run("http://b", "skipped", "no model")]
    markdown = render_markdown(runs)
    row = next(line for line in markdown.splitlines() if "errors.unknown_path" in line)
    assert row.endswith("| required | pass | skip: no model |")
    fragment = matrix_html_fragment(runs)
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert fragment.count('class="ohc-skipped ohc-required"') == 1 and "http://b" in fragment


def test_report_command_detects_kinds_and_renders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, empty = tmp_path / "a", tmp_path / "b", tmp_path / "empty"
    _run("http://a", "passed").write(a)
    _run("http://b", "failed", "status 200, expected 404").write(b)
    empty.mkdir()
    assert detect_kind(a) == "conformance" and detect_kind(empty) is None
    html_path = tmp_path / "both.html"
    assert main(["report", str(a), str(b), "--html", str(html_path)]) == 0
    out = capsys.readouterr().out
    assert "| run 1 | run 2 |" in out and "FAIL: status 200, expected 404" in out
    assert "http://b" in html_path.read_text()
    assert main(["report", str(empty)]) == 2
    assert "conformance.json" in capsys.readouterr().err


def test_check_command_builds_the_pytest_invocation() -> None:
    from ollama_harness.cli import build_parser

    args = build_parser().parse_args(
        [
            "check",
            "http://h:1",
            "--model",
            "m1",
            "--model",
            "m2",
            "--level",
            "core",
            "--thorough",
            "--registry",
            "http://r:2",
            "--junit-xml",
            "j.xml",
            "--pytest",
            "-x --maxfail 2",
        ]
    )
    argv = pytest_arguments(args)
    assert argv[:2] == ["--pyargs", "ollama_harness.conformance"]
    for expected in (
        "--ollama-url=http://h:1",
        "--ollama-level=core",
        "--ollama-model=m1",
        "--ollama-model=m2",
        "--ollama-thorough",
        "--ollama-registry=http://r:2",
        "--ollama-junit-xml=j.xml",
    ):
        assert expected in argv
    assert argv[-3:] == ["-x", "--maxfail", "2"]


def test_plugin_import_is_cheap_and_inert_without_a_url() -> None:
    code = (
        "import sys, ollama_harness.conformance.plugin;"
        "heavy = {'hypothesis', 'schemathesis', 'httpx', 'ollama_harness.conformance.session'}"
        " & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_suite_collected_without_a_url_skips_everything(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "ollama_harness.conformance",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "basics",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout and "passed" not in result.stdout
    assert not (tmp_path / "reports").exists()


def _result(
    check_id: str, outcome: str, severity: str = "required", *, reason: str = "", cause: str = ""
) -> CheckResult:
    return CheckResult(
        check_id,
        "lifecycle",
        "create",
        check_id,
        outcome,
        reason=reason,
        severity=severity,
        cause=cause,
    )


def test_severity_decides_the_verdict_and_strict_counts_recommended_ones() -> None:
    run = _run("http://a", "passed")
    run.results.append(_result("lifecycle.wording", "failed", "recommended", reason="words"))
    assert run.ok
    run.strict = True
    assert not run.ok
    run.strict = False
    run.results.append(_result("lifecycle.status", "failed", reason="status 501"))
    assert not run.ok
    assert "2 failed (1 required, 1 recommended)" in run.summary()
    assert run.area_scores()["lifecycle"] == {"recommended": (0, 1), "required": (0, 1)}


def test_failures_sharing_a_root_cause_are_grouped_once(tmp_path: Path) -> None:
    run = _run("http://a", "passed")
    cause = "POST /api/create answered 501: not implemented"
    for name in ("a", "b", "c", "d", "e"):
        run.results.append(_result(f"lifecycle.{name}", "failed", reason="status 501", cause=cause))
    run.results.append(_result("lifecycle.other", "failed", reason="x", cause="GET / answered 500"))
    write_reports(run, tmp_path)
    markdown = (tmp_path / "conformance.md").read_text()
    assert markdown.count(cause) == 1 and "5 checks: `lifecycle.a`" in markdown
    assert "GET / answered 500" not in markdown.split("## Failures")[0]  # alone: no group
    assert cause in (tmp_path / "conformance.html").read_text()


def test_discovery_notes_and_the_server_name_are_at_the_top_of_every_report(
    tmp_path: Path,
) -> None:
    run = _run("http://a", "passed")
    run.server, run.server_version = "", None
    run.notes = ["/api/tags answered 404"]
    write_reports(run, tmp_path)
    for name in ("conformance.md", "conformance.html"):
        text = (tmp_path / name).read_text()
        assert "/api/tags answered 404" in text and "unnamed server, version unknown" in text
        assert "None" not in text
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.find("properties/property[@name='discovery']") is not None


def test_a_check_must_cite_its_source() -> None:
    from ollama_harness.conformance.registry import check

    def sourceless(t: Target) -> None:
        """A check that says nothing of where its expectation comes from."""

    with pytest.raises(ValueError, match="where its expectation comes from"):
        check("basics", "getRoot")(sourceless)


def test_every_check_cites_ollama_and_has_a_severity() -> None:
    from ollama_harness.conformance.registry import all_checks

    checks = all_checks()
    assert checks and all(c.severity in ("required", "recommended") for c in checks)
    for chk in checks:
        assert any(
            where in chk.source
            for where in (
                "server/",
                "api/",
                "docs/api",
                "middleware/",
                "openai/",
                "anthropic/",
                "llm/",
            )
        ), (chk.id, chk.source)


def test_a_table_check_reports_every_failing_variant() -> None:
    from ollama_harness.conformance import expect
    from ollama_harness.conformance.outcome import CheckFailed

    def odd_fails(n: int) -> None:
        if n % 2:
            raise CheckFailed(f"{n} is odd", cause="odd")

    with pytest.raises(CheckFailed) as caught:
        expect.each("numbers", range(7), odd_fails)
    assert caught.value.reason.startswith("3 of 7 numbers: 1: 1 is odd; 3: 3 is odd; 5")
    assert caught.value.cause == "odd"
    expect.each("numbers", [0, 2], odd_fails)  # nothing fails: nothing raised
