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

from conformance.results import CheckResult, RunResult
from ollama_harness.core.spec import load_spec

SYMBOL = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "skipped": "skip"}
_CSS = """
.ohc-matrix{border-collapse:collapse;font:13px/1.35 system-ui,sans-serif}
.ohc-matrix th,.ohc-matrix td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;
 text-align:left}
.ohc-matrix th{background:#f3f3f3}
.ohc-passed{background:#e6f4e6}.ohc-failed,.ohc-error{background:#fbe3e3}
.ohc-skipped{background:#f5f5f0;color:#666}
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
    counts = run.counts()
    return ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped"))


# -- Markdown ---------------------------------------------------------------------------
def _md_cell(result: CheckResult | None) -> str:
    if result is None:
        return "—"
    text = SYMBOL[result.outcome]
    if result.reason:
        text += ": " + result.reason
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(runs: Sequence[RunResult]) -> str:
    lines = ["# Ollama API conformance", ""]
    for number, run in enumerate(runs, 1):
        lines += [
            f"- **run {number}**: `{run.url}` server version `{run.server_version}`, "
            f"level `{run.level}`, spec `{run.spec_version}`, {run.started}, "
            f"{run.duration:.1f} s: {_summary(run)}",
            f"  - command: `{run.command}`",
        ]
    lines += [
        "",
        "| operation | check | " + " | ".join(f"run {i}" for i in range(1, len(runs) + 1)) + " |",
    ]
    lines.append("|---|---|" + "---|" * len(runs))
    indexes = [_index(run) for run in runs]
    for op, check_id, _title in _rows(runs):
        cells = [_md_cell(index.get(check_id)) for index in indexes]
        lines.append(f"| {op} | `{check_id}` | " + " | ".join(cells) + " |")
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
                f"### run {number}: `{result.check_id}` ({result.operation})",
                "",
                result.reason,
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
    if result.excerpt and result.outcome in ("failed", "error"):
        body += f"<pre>{html.escape(result.excerpt)}</pre>"
    return f'<td class="ohc-{result.outcome}">{body}</td>'


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
            f"<small>{html.escape(title)}</small></td>{cells}</tr>"
        )
    summary = "".join(
        f"<p class='ohc-summary'>run {i}: <code>{html.escape(run.command)}</code> — level "
        f"{html.escape(run.level)}, spec {html.escape(run.spec_version)}, "
        f"{html.escape(run.started)}, "
        f"{run.duration:.1f} s</p>"
        for i, run in enumerate(runs, 1)
    )
    return (
        f"<style>{_CSS}</style>{summary}<table class='ohc-matrix'><thead><tr><th>operation</th>"
        f"<th>check</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(runs: Sequence[RunResult]) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Ollama API conformance</title>"
        "</head><body><h1 style='font:20px system-ui'>Ollama API conformance</h1>"
        f"{matrix_html_fragment(runs)}</body></html>\n"
    )


# -- JUnit ---------------------------------------------------------------------------------
def render_junit(run: RunResult) -> bytes:
    counts = run.counts()
    suite = ET.Element(
        "testsuite",
        name="ollama-conformance",
        tests=str(len(run.results)),
        failures=str(counts["failed"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{run.duration:.3f}",
        timestamp=run.started,
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("url", run.url),
        ("server_version", str(run.server_version)),
        ("level", run.level),
        ("command", run.command),
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
        if result.outcome in ("failed", "error"):
            element = ET.SubElement(case, "failure" if result.outcome == "failed" else "error")
            element.set("message", result.reason)
            element.text = result.excerpt
        elif result.outcome == "skipped":
            ET.SubElement(case, "skipped", message=result.reason)
    suites = ET.Element("testsuites")
    suites.append(suite)
    return bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


def write_reports(run: RunResult, directory: Path, junit_path: Path | None = None) -> list[Path]:
    """Write the JSON result, JUnit XML, Markdown and HTML matrix of one run."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [run.write(directory)]
    junit = junit_path or directory / "junit.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.write_bytes(render_junit(run))
    markdown = directory / "conformance.md"
    markdown.write_text(render_markdown([run]), encoding="utf-8")
    page = directory / "conformance.html"
    page.write_text(render_html([run]), encoding="utf-8")
    return [*written, junit, markdown, page]
