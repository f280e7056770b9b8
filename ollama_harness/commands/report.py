"""``ollama-harness report DIR [DIR ...]``: several runs side by side.

Each directory is recognised by the result file it holds (:data:`KINDS`); a
conformance run holds ``conformance.json``, a load run ``summary.json``, a load
sweep ``sweep.json``. Runs of one kind are rendered together (server A vs server
B). Another kind of run plugs in by adding its result file and renderer to
:data:`KINDS`; a kind with a ``gate`` also decides the exit status: load runs are
compared with the first one given, and a throughput drop or latency rise past
the thresholds exits 1 (a regression gate for CI).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """A gate's decision on some runs: its explanation and the exit status it asks for."""

    markdown: str
    html: str
    status: int


@dataclass(frozen=True)
class ReportKind:
    """How to render runs of one kind: Markdown and HTML of a list of directories."""

    result_file: str
    markdown: Callable[[list[Path]], str]
    html: Callable[[list[Path]], str]
    #: Optional regression gate, given the directories and the command's options.
    gate: Callable[[list[Path], argparse.Namespace], Verdict] | None = None


def _conformance_markdown(dirs: list[Path]) -> str:
    from ollama_harness.conformance.report import render_markdown
    from ollama_harness.conformance.results import RunResult

    return render_markdown([RunResult.read(d) for d in dirs])


def _conformance_html(dirs: list[Path]) -> str:
    from ollama_harness.conformance.report import render_html
    from ollama_harness.conformance.results import RunResult

    return render_html([RunResult.read(d) for d in dirs])


def _load_runs(dirs: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    from ollama_harness.load.comparereport import run_name
    from ollama_harness.load.reportfiles import load_summary

    return [(run_name(d), load_summary(d)) for d in dirs]


def _load_markdown(dirs: list[Path]) -> str:
    from ollama_harness.load.comparereport import runs_markdown

    return runs_markdown(_load_runs(dirs))


def _load_html(dirs: list[Path]) -> str:
    from ollama_harness.load.comparereport import runs_html

    return runs_html(_load_runs(dirs))


def _load_gate(dirs: list[Path], args: argparse.Namespace) -> Verdict:
    from ollama_harness.load.comparereport import compare_all, verdict_fragment, verdict_markdown

    runs = _load_runs(dirs)
    if len(runs) < 2:
        return Verdict("", "", 0)
    latency = tuple(x for x in args.latency.split(",") if x.strip())
    comparisons = compare_all(runs, latency, args.max_latency_rise, args.max_throughput_drop)
    regressed = any(result.regressed for _, result in comparisons)
    return Verdict(
        verdict_markdown(runs[0][0], comparisons),
        verdict_fragment(runs[0][0], comparisons),
        1 if regressed else 0,
    )


def _sweep_markdown(dirs: list[Path]) -> str:
    from ollama_harness.load.comparereport import sweeps_markdown

    return sweeps_markdown(_load_runs(dirs))


#: Kind name -> how to find and render it; detection goes in this order.
KINDS: dict[str, ReportKind] = {
    "conformance": ReportKind("conformance.json", _conformance_markdown, _conformance_html),
    "load": ReportKind("summary.json", _load_markdown, _load_html, _load_gate),
    "load-sweep": ReportKind("sweep.json", _sweep_markdown, _load_html),
}


def _fraction(text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a fraction like 0.1 or 10%, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def detect_kind(directory: Path) -> str | None:
    for name, kind in KINDS.items():
        if (directory / kind.result_file).is_file():
            return name
    return None


def _with_fragments(page: str, fragments: list[str]) -> str:
    """The gates' verdicts at the top of the first page's body."""
    if not fragments:
        return page
    start = page.find("<body")
    end = page.find(">", start) + 1 if start >= 0 else 0
    return page[:end] + "".join(fragments) + page[end:]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render the results of several runs side by side",
        description="Render result directories (written by `check`) side by side: Markdown "
        "on stdout, and HTML with --html.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="result directories")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the HTML matrix here")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write Markdown here")
    gate = parser.add_argument_group("load runs: regression gate (runs compared with the first)")
    gate.add_argument(
        "--latency",
        default="ttft.p95,itl.p95,e2e.p95",
        help="latency figures to gate, METRIC.STAT (metrics ttft itl inter_chunk tpot e2e "
        "queue; stats p50 p90 p95 p99 max mean); default %(default)s",
    )
    gate.add_argument(
        "--max-latency-rise",
        type=_fraction,
        default=0.10,
        help="fail when a gated latency rises more than this (default 10%%)",
    )
    gate.add_argument(
        "--max-throughput-drop",
        type=_fraction,
        default=0.10,
        help="fail when requests/s or output tokens/s drop more than this (default 10%%)",
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    groups: dict[str, list[Path]] = {}
    for directory in args.dirs:
        kind = detect_kind(directory)
        if kind is None:
            expected = ", ".join(k.result_file for k in KINDS.values())
            print(
                f"{directory}: no result file found (expected one of: {expected})", file=sys.stderr
            )
            return 2
        groups.setdefault(kind, []).append(directory)
    verdicts: list[Verdict] = []
    try:
        markdown = "\n".join(KINDS[k].markdown(dirs) for k, dirs in groups.items())
        for k, dirs in groups.items():
            gate = KINDS[k].gate
            if gate is not None:
                verdicts.append(gate(dirs, args))
    except ValueError as exc:  # a result file that cannot be read, a bad --latency
        print(f"ollama-harness report: {exc}", file=sys.stderr)
        return 2
    markdown += "".join("\n" + v.markdown for v in verdicts if v.markdown)
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.html:
        pages = [KINDS[k].html(dirs) for k, dirs in groups.items()]
        pages[0] = _with_fragments(pages[0], [v.html for v in verdicts if v.html])
        args.html.write_text("\n".join(pages), encoding="utf-8")
        print(f"HTML written to {args.html}", file=sys.stderr)
    return max((v.status for v in verdicts), default=0)
