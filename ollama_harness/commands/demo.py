"""``ollama-harness demo``: the main job (server + conformance + load, one report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ollama_harness.core.names import ModelNameError
from ollama_harness.demo import DemoOptions, DemoResult, run_demo


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start a server, run the conformance suite and a load profile, write one report",
        description="Start the reference server with the bundled model on a free loopback "
        "port (the mock when the reference extra is not installed), run the conformance "
        "suite and a mixed load profile against it, write reports/<timestamp>/index.html "
        "and stop the server.",
    )
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="report root")
    parser.add_argument("--duration", default="30s", help="load run length (default 30s)")
    parser.add_argument("--users", type=int, default=4, help="concurrent load users (default 4)")
    parser.add_argument(
        "--level", choices=("core", "full"), default="full", help="conformance level"
    )
    parser.add_argument("--model", default="smollm2:135m", help="model to test and load")
    parser.add_argument(
        "--server",
        choices=("auto", "reference", "mock"),
        default="auto",
        help="auto: the reference server when its extra is installed, else the mock",
    )
    parser.add_argument(
        "--models", type=Path, default=None, help="reference server's model store directory"
    )
    parser.set_defaults(func=run)


def _ms(stats: dict[str, Any], key: str) -> str:
    value = stats.get(key)
    return "-" if value is None else f"{value:.1f} ms"


def summary_table(result: DemoResult) -> Table:
    table = Table(title=f"ollama-harness demo: {result.server_kind} server at {result.url}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    counts = result.conformance
    table.add_row(
        "conformance checks",
        f"{counts.get('passed', 0)} passed, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped",
    )
    load = result.load
    if load:
        requests = load.get("requests", {})
        throughput = load.get("throughput", {})
        latency = load.get("latency_ms", {})
        rates = load.get("rates_tps", {})
        table.add_row(
            "load requests", f"{requests.get('ok', 0)} ok, {requests.get('errors', 0)} errors"
        )
        table.add_row("requests/s", f"{throughput.get('requests_per_s', 0.0):.2f}")
        table.add_row("output tokens/s", f"{throughput.get('output_tokens_per_s', 0.0):.1f}")
        table.add_row(
            "TTFT p50 / p95",
            f"{_ms(latency.get('ttft', {}), 'p50')} / {_ms(latency.get('ttft', {}), 'p95')}",
        )
        table.add_row(
            "ITL p50 / p95",
            f"{_ms(latency.get('itl', {}), 'p50')} / {_ms(latency.get('itl', {}), 'p95')}",
        )
        table.add_row(
            "E2E p50 / p95",
            f"{_ms(latency.get('e2e', {}), 'p50')} / {_ms(latency.get('e2e', {}), 'p95')}",
        )
        decode = rates.get("client_decode", {}).get("p50")
        server = rates.get("server_decode", {}).get("p50")
        if decode and server:
            table.add_row("decode tokens/s p50 (client / server)", f"{decode:.1f} / {server:.1f}")
    return table


def run(args: argparse.Namespace) -> int:
    console = Console()
    options = DemoOptions(
        reports=args.reports,
        duration=args.duration,
        users=args.users,
        level=args.level,
        model=args.model,
        server=args.server,
        models_dir=args.models,
    )
    try:
        result = run_demo(options, say=console.print)
    except ModelNameError:
        console.print(f"[red]invalid model name:[/red] {args.model!r}")
        return 2
    except RuntimeError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    console.print(summary_table(result))
    console.print(f"Report: [bold]{result.index}[/bold]")
    if result.conformance_exit != 0:
        console.print(
            f"[red]the conformance suite found failures[/red]; see {result.directory}/conformance"
        )
    return 0 if result.ok else 1
