"""Several load runs side by side, as Markdown and HTML, and the regression verdict."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from ollama_harness.load.compare import Comparison, compare
from ollama_harness.load.htmlreport import (
    STYLE,
    render_load_fragment,
    render_page,
    render_sweep_fragment,
)
from ollama_harness.load.metrics import figure

#: Figures of the side-by-side table: (label, dotted path in the summary).
FIGURES: tuple[tuple[str, str], ...] = (
    ("requests", "requests.total"),
    ("errors", "requests.errors"),
    ("requests/s", "throughput.requests_per_s"),
    ("output tokens/s", "throughput.output_tokens_per_s"),
    ("goodput req/s", "goodput.requests_per_s"),
    ("TTFT p50 ms", "latency_ms.ttft.p50"),
    ("TTFT p95 ms", "latency_ms.ttft.p95"),
    ("ITL p50 ms", "latency_ms.itl.p50"),
    ("ITL p95 ms", "latency_ms.itl.p95"),
    ("E2E p50 ms", "latency_ms.e2e.p50"),
    ("E2E p95 ms", "latency_ms.e2e.p95"),
    ("E2E p99 ms", "latency_ms.e2e.p99"),
    ("queue p95 ms", "latency_ms.queue.p95"),
    ("server decode p50 tok/s", "rates_tps.server_decode.p50"),
    ("client decode p50 tok/s", "rates_tps.client_decode.p50"),
)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _change(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def runs_markdown(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """The key figures of each run, one column per run."""
    head = "| figure | " + " | ".join(name for name, _ in runs) + " |"
    rule = "|---|" + "---:|" * len(runs)
    lines = ["## Load runs", "", head, rule]
    for label, path in FIGURES:
        cells = " | ".join(_cell(figure(summary, path)) for _, summary in runs)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines) + "\n"


def sweeps_markdown(runs: list[tuple[str, dict[str, Any]]]) -> str:
    lines = ["## Load sweeps", ""]
    for name, sweep in runs:
        sat = sweep.get("saturation") or {}
        lines += [
            f"### {name}",
            "",
            (
                f"saturation at {sweep['mode']} {sat['level']:g}"
                + ("" if sat["reached"] else " (not reached: raise the levels)")
            )
            if sat
            else "no saturation point (no levels)",
            "",
            f"| {sweep['mode']} | req/s | out tok/s | goodput/s | TTFT p95 | E2E p95 |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for p in sweep["points"]:
            lines.append(
                f"| {p['level']:g} | {_cell(p['requests_per_s'])} | "
                f"{_cell(p['output_tokens_per_s'])} | {_cell(p['goodput_per_s'])} | "
                f"{_cell(p['ttft_p95'])} | {_cell(p['e2e_p95'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def compare_all(
    runs: list[tuple[str, dict[str, Any]]],
    latency: tuple[str, ...],
    max_latency_rise: float,
    max_throughput_drop: float,
) -> list[tuple[str, Comparison]]:
    """Every run after the first against the first (the baseline)."""
    base = runs[0][1]
    return [
        (name, compare(base, summary, latency, max_latency_rise, max_throughput_drop))
        for name, summary in runs[1:]
    ]


def verdict_markdown(baseline: str, comparisons: list[tuple[str, Comparison]]) -> str:
    lines: list[str] = []
    for name, result in comparisons:
        verdict = "REGRESSION" if result.regressed else "ok"
        lines += [
            f"## {name} vs {baseline}: {verdict}",
            "",
            "| figure | baseline | candidate | change | limit | |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in result.rows:
            limit = "" if row.limit is None else f"{row.limit:+.0%}"
            flag = "**regressed**" if row.regressed else ("gated" if row.gated else "")
            lines.append(
                f"| {row.figure} | {_cell(row.baseline)} | {_cell(row.candidate)} | "
                f"{_change(row.change)} | {limit} | {flag} |"
            )
        lines += [f"- {note}" for note in result.notes]
        lines.append("")
    return "\n".join(lines)


def verdict_fragment(baseline: str, comparisons: list[tuple[str, Comparison]]) -> str:
    parts = [f'<section class="oh-load"><style>{STYLE}</style>']
    for name, result in comparisons:
        cls = "oh-bad" if result.regressed else "oh-good"
        verdict = "regression" if result.regressed else "no regression"
        parts.append(
            f'<h2>{escape(name)} vs {escape(baseline)}: <span class="{cls}">{verdict}</span></h2>'
            "<table><thead><tr><th>figure</th><th>baseline</th><th>candidate</th>"
            "<th>change</th><th>limit</th><th></th></tr></thead><tbody>"
        )
        for row in result.rows:
            limit = "" if row.limit is None else f"{row.limit:+.0%}"
            flag = (
                '<span class="oh-bad">regressed</span>'
                if row.regressed
                else ("gated" if row.gated else "")
            )
            parts.append(
                f"<tr><td>{escape(row.figure)}</td><td>{_cell(row.baseline)}</td>"
                f"<td>{_cell(row.candidate)}</td><td>{_change(row.change)}</td>"
                f"<td>{limit}</td><td>{flag}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts += [f'<p class="oh-note">{escape(note)}</p>' for note in result.notes]
    parts.append("</section>")
    return "".join(parts)


def runs_html(runs: list[tuple[str, dict[str, Any]]], verdict: str = "") -> str:
    """One page: the verdict (if any), then each run's full report."""
    fragments = [verdict] if verdict else []
    for name, summary in runs:
        if summary.get("schema", "").endswith("load-sweep/1"):
            fragments.append(render_sweep_fragment(summary, f"Sweep: {name}"))
        else:
            fragments.append(render_load_fragment(summary, f"Load run: {name}"))
    return render_page("Load runs", *fragments)


def run_name(path: Path) -> str:
    return path.name if path.is_dir() else path.parent.name or str(path)
