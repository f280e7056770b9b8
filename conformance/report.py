"""Reports of one or several runs: JSON, JUnit XML, Markdown and HTML matrices.

One renderer serves one run and several runs side by side (``ollama-harness
report A B``): rows are (operation, check), columns are runs. The HTML is
self-contained (inline CSS, no scripts). :func:`matrix_html_fragment` returns
the matrix without the page around it, for embedding in a joint report.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from ollama_harness.conformance.results import SEVERITIES, CheckResult, RunResult
from ollama_harness.core.spec import load_spec

SYMBOL = {
    "passed": "pass",
    "failed": "FAIL",
    "error": "ERROR",
    "skipped": "skip",
    "not_run": "not run",
}
_CSS = """
.ohc-matrix{border-collapse:collapse;font:13px/1.35 system-ui,sans-serif}
.ohc-matrix th,.ohc-matrix td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;
 text-align:left}
.ohc-matrix th{background:#f3f3f3}
.ohc-passed{background:#e6f4e6}.ohc-failed,.ohc-error{background:#fbe3e3}
.ohc-skipped,.ohc-not_run{background:#f5f5f0;color:#666}
.ohc-recommended.ohc-failed,.ohc-recommended.ohc-error{background:#fdf1dc}
.ohc-matrix pre{white-space:pre-wrap;max-width:60ch;margin:4px 0 0;font-size:11px;
 background:#fff8;padding:3px}
.ohc-summary{font:13px system-ui,sans-serif;margin:0 0 8px}
"""


def _rows(runs: Sequence[RunResult]) -> list[tuple[str, str, str]]:
    """(operation, check id, title) of every check any run has, in first-seen order."""
    seen: dict[tuple[str, str], str] = {}
    for run in runs:
        for result in run.results:
            seen.setdefault((result.operation, result.check_id), result.title)
    order = {op_id: i for i, op_id in enumerate(load_spec().operations)}
    rows = sorted(seen, key=lambda key: (order.get(key[0], len(order)), key[0], key[1]))
    return [(op, check_id, seen[(op, check_id)]) for op, check_id in rows]


def _index(run: RunResult) -> dict[str, CheckResult]:
    return {r.check_id: r for r in run.results}


def _label(run: RunResult) -> str:
    return f"{run.url} ({run.server_version or 'version unknown'})"


def _summary(run: RunResult) -> str:
    return run.summary()


def _state(run: RunResult) -> str:
    """How the run ended, when it did not simply complete."""
    if run.interrupted:
        return "INTERRUPTED: partial results"
    if run.server_down_since:
        return f"STOPPED: server down since {run.server_down_since}"
    return ""


def _severity(run: RunResult, check_id: str) -> str:
    return next((r.severity for r in run.results if r.check_id == check_id), "required")


def score_lines(run: RunResult) -> list[str]:
    """Per area and severity: checks passed of those that reached a verdict."""
    scores = run.area_scores()
    lines = []
    for area, by_severity in scores.items():
        parts = []
        for severity in SEVERITIES:
            if severity in by_severity:
                passed, total = by_severity[severity]
                parts.append(f"{severity} {passed}/{total}")
        lines.append(f"  {area:<12} " + ", ".join(parts))
    per = run.severity_counts()
    total_line = ", ".join(
        f"{s} {per[s]['passed']}/{per[s]['passed'] + per[s]['failed'] + per[s]['error']}"
        for s in SEVERITIES
    )
    return [f"score: {total_line}", *lines]


def root_causes(run: RunResult) -> list[tuple[str, list[CheckResult]]]:
    """Failures grouped by root cause (same status and message on the same operation).

    Causes shared by several checks come first: one missing route often breaks many.
    """
    groups: dict[str, list[CheckResult]] = {}
    for result in run.failing():
        groups.setdefault(result.cause or result.reason, []).append(result)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


# -- Markdown ---------------------------------------------------------------------------
def _md_cell(result: CheckResult | None) -> str:
    if result is None:
        return "—"
    text = SYMBOL[result.outcome]
    if result.reason:
        text += ": " + result.reason
    if result.notes:
        text += " (" + "; ".join(result.notes) + ")"
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(runs: Sequence[RunResult]) -> str:
    lines = ["# Ollama API conformance", ""]
    for number, run in enumerate(runs, 1):
        state = _state(run)
        lines += [
            f"- **run {number}**: `{run.url}` ({run.server_label()}), "
            f"level `{run.level}`, spec `{run.spec_version}`, {run.started}, "
            f"{run.duration:.1f} s: {_summary(run)}" + (f" — **{state}**" if state else ""),
            f"  - verdict: {'pass' if run.ok else 'FAIL'}"
            + (" (strict: recommended checks count)" if run.strict else ""),
            f"  - command: `{run.command}`",
        ]
        lines += [f"  - {line.strip()}" for line in score_lines(run)]
        lines += [f"  - discovery: {note}" for note in run.notes]
    lines += [
        "",
        "| operation | check | severity | "
        + " | ".join(f"run {i}" for i in range(1, len(runs) + 1))
        + " |",
    ]
    lines.append("|---|---|---|" + "---|" * len(runs))
    indexes = [_index(run) for run in runs]
    for op, check_id, _title in _rows(runs):
        cells = [_md_cell(index.get(check_id)) for index in indexes]
        severity = _severity(runs[0], check_id)
        lines.append(f"| {op} | `{check_id}` | {severity} | " + " | ".join(cells) + " |")
    for number, run in enumerate(runs, 1):
        shared = [(cause, rs) for cause, rs in root_causes(run) if len(rs) > 1]
        if shared:
            lines += ["", f"## Root causes shared by several failures (run {number})", ""]
            for cause, results in shared:
                ids = ", ".join(f"`{r.check_id}`" for r in results)
                lines.append(f"- {cause} — {len(results)} checks: {ids}")
    failures = [
        (number, r)
        for number, run in enumerate(runs, 1)
        for r in run.results
        if r.outcome in ("failed", "error")
    ]
    if failures:
        lines += ["", "## Failures", ""]
        for number, result in failures:
            lines += [
                f"### run {number}: `{result.check_id}` ({result.operation}, {result.severity})",
                "",
                result.reason,
                "",
                f"Expectation from: {result.source}",
                "",
            ]
            if result.excerpt:
                lines += ["```", result.excerpt, "```", ""]
    return "\n".join(lines) + "\n"


# -- HTML ----------------------------------------------------------------------------------
def _html_cell(result: CheckResult | None) -> str:
    if result is None:
        return "<td>—</td>"
    body = f"<b>{SYMBOL[result.outcome]}</b>"
    if result.reason:
        body += " " + html.escape(result.reason)
    if result.notes:
        body += "<br><small>" + html.escape("; ".join(result.notes)) + "</small>"
    if result.excerpt and result.outcome in ("failed", "error"):
        body += f"<pre>{html.escape(result.excerpt)}</pre>"
    return f'<td class="ohc-{result.outcome} ohc-{result.severity}">{body}</td>'


def matrix_html_fragment(runs: Sequence[RunResult]) -> str:
    """The conformance matrix as an HTML fragment (a ``<style>`` and a ``<table>``)."""
    heads = "".join(
        f"<th>run {i}<br><small>{html.escape(_label(run))}<br>{html.escape(_summary(run))}"
        f"</small></th>"
        for i, run in enumerate(runs, 1)
    )
    indexes = [_index(run) for run in runs]
    rows = []
    for op, check_id, title in _rows(runs):
        cells = "".join(_html_cell(index.get(check_id)) for index in indexes)
        rows.append(
            f"<tr><td>{html.escape(op)}</td><td><code>{html.escape(check_id)}</code><br>"
            f"<small>{html.escape(title)}</small></td>"
            f"<td>{_severity(runs[0], check_id)}</td>{cells}</tr>"
        )
    summary = "".join(_html_run_summary(i, run) for i, run in enumerate(runs, 1))
    return (
        f"<style>{_CSS}</style>{summary}<table class='ohc-matrix'><thead><tr><th>operation</th>"
        f"<th>check</th><th>severity</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table>"
    )


def _html_run_summary(number: int, run: RunResult) -> str:
    state = _state(run)
    scores = "".join(f"<li>{html.escape(line.strip())}</li>" for line in score_lines(run))
    notes = "".join(f"<li>discovery: {html.escape(note)}</li>" for note in run.notes)
    shared = [(cause, rs) for cause, rs in root_causes(run) if len(rs) > 1]
    causes = "".join(
        f"<li>{html.escape(cause)} — {len(rs)} checks: "
        f"{html.escape(', '.join(r.check_id for r in rs))}</li>"
        for cause, rs in shared
    )
    return (
        f"<div class='ohc-summary'><p>run {number}: {html.escape(run.url)} "
        f"({html.escape(run.server_label())}) — <code>{html.escape(run.command)}</code> — level "
        f"{html.escape(run.level)}, spec {html.escape(run.spec_version)}, "
        f"{html.escape(run.started)}, {run.duration:.1f} s — verdict "
        f"<b>{'pass' if run.ok else 'FAIL'}</b>"
        + (f" — <b>{html.escape(state)}</b>" if state else "")
        + f"</p><p>{html.escape(run.summary())}</p><ul>{scores}{notes}</ul>"
        + (f"<p>Root causes shared by several failures:</p><ul>{causes}</ul>" if causes else "")
        + "</div>"
    )


def render_html(runs: Sequence[RunResult]) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Ollama API conformance</title>"
        "</head><body><h1 style='font:20px system-ui'>Ollama API conformance</h1>"
        f"{matrix_html_fragment(runs)}</body></html>\n"
    )


# -- JUnit ---------------------------------------------------------------------------------
def render_junit(run: RunResult) -> bytes:
    """JUnit XML with the run's counts: ``failures`` are failed checks, ``errors`` crashed
    ones, ``skipped`` includes the checks not run (JUnit has no word for them)."""
    counts = run.counts()
    suite = ET.Element(
        "testsuite",
        name="ollama-conformance",
        tests=str(len(run.results)),
        failures=str(counts["failed"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"] + counts["not_run"]),
        time=f"{run.duration:.3f}",
        timestamp=run.started,
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("url", run.url),
        ("server", run.server_label()),
        ("level", run.level),
        ("command", run.command),
        ("summary", run.summary()),
        ("verdict", "pass" if run.ok else "fail"),
        ("interrupted", str(run.interrupted).lower()),
        ("server_down_since", run.server_down_since or ""),
        *(("discovery", note) for note in run.notes),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for result in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{result.area}.{result.operation}",
            name=result.check_id,
            time=f"{result.duration:.3f}",
        )
        case_props = ET.SubElement(case, "properties")
        ET.SubElement(case_props, "property", name="severity", value=result.severity)
        ET.SubElement(case_props, "property", name="source", value=result.source)
        if result.outcome in ("failed", "error"):
            element = ET.SubElement(case, "failure" if result.outcome == "failed" else "error")
            element.set("message", result.reason)
            element.set("type", result.severity)
            element.text = result.excerpt
        elif result.outcome in ("skipped", "not_run"):
            ET.SubElement(case, "skipped", message=result.reason, type=result.outcome)
    suites = ET.Element("testsuites")
    suites.append(suite)
    return bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


def write_reports(run: RunResult, directory: Path, junit_path: Path | None = None) -> list[Path]:
    """Write the JSON result, JUnit XML, Markdown and HTML matrix of one run."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [run.write(directory)]
    junits = [directory / "junit.xml"] + ([junit_path] if junit_path else [])
    for junit in junits:
        junit.parent.mkdir(parents=True, exist_ok=True)
        _write(junit, render_junit(run))
    markdown = directory / "conformance.md"
    _write(markdown, render_markdown([run]).encode())
    page = directory / "conformance.html"
    _write(page, render_html([run]).encode())
    return [*written, *junits, markdown, page]


def _write(path: Path, data: bytes) -> None:
    """Whole file or none: a run interrupted while reporting leaves no torn file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
