"""``ollama-harness report DIR [DIR ...]``: several runs side by side.

Each directory is recognised by the result file it holds (:data:`KINDS`); a
conformance run holds ``conformance.json``. Runs of one kind are rendered
together (server A vs server B). Another kind of run (a load run, say) plugs in
by adding its result file and renderer to :data:`KINDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportKind:
    """How to render runs of one kind: Markdown and HTML of a list of directories."""

    result_file: str
    markdown: Callable[[list[Path]], str]
    html: Callable[[list[Path]], str]


def _conformance_markdown(dirs: list[Path]) -> str:
    from conformance.report import render_markdown
    from conformance.results import RunResult

    return render_markdown([RunResult.read(d) for d in dirs])


def _conformance_html(dirs: list[Path]) -> str:
    from conformance.report import render_html
    from conformance.results import RunResult

    return render_html([RunResult.read(d) for d in dirs])


#: Kind name -> how to find and render it; detection goes in this order.
KINDS: dict[str, ReportKind] = {
    "conformance": ReportKind("conformance.json", _conformance_markdown, _conformance_html),
}


def detect_kind(directory: Path) -> str | None:
    for name, kind in KINDS.items():
        if (directory / kind.result_file).is_file():
            return name
    return None


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
    markdown = "\n".join(KINDS[k].markdown(dirs) for k, dirs in groups.items())
    if args.markdown:
        args.markdown.write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.html:
        pages = [KINDS[k].html(dirs) for k, dirs in groups.items()]
        args.html.write_text("\n".join(pages), encoding="utf-8")
        print(f"HTML written to {args.html}", file=sys.stderr)
    return 0
