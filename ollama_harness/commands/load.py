"""``ollama-harness load URL --profile P``: a Locust load test of an Ollama-compatible server.

Headless by default with a live progress line; each run writes summary.json,
samples.csv and report.html into ``--out``. ``--processes K`` forks K Locust
workers on this machine; ``--master`` / ``--worker`` spread one test over several
machines (Locust's distributed mode). ``--profile sweep`` runs one test per level
of ``--users 1,2,4,8`` or ``--rate 0.5,1,2`` and finds the saturation point.

Exit status: 0 when the run completed (and met every ``--slo`` objective), 1 when
no request succeeded, 2 for bad options, 3 when an SLO objective was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:11434"


def _default_url() -> str:
    """Like Ollama's own clients: ``OLLAMA_HOST`` (host, host:port or a URL), else the default."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return DEFAULT_URL
    if "://" not in host:
        host = "http://" + host
    if host.count(":") == 1:  # scheme only, no port
        host += ":11434"
    return host.rstrip("/")


def register(subparsers: Any) -> None:
    from ollama_harness.load.profiles import PROFILE_NAMES, PROFILES
    from ollama_harness.load.workload import APIS

    profiles = "; ".join(f"{name}: {p.description}" for name, p in PROFILES.items())
    parser = subparsers.add_parser(
        "load",
        help="load-test a server with Locust (TTFT, ITL, throughput, goodput; HTML report)",
        description=__doc__,
        epilog=f"Profiles: {profiles}; sweep: one run per level of --users or --rate. "
        "Plain Locust works too: locust -f load/locustfile.py --host URL --workload mixed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "url",
        nargs="?",
        default=None,
        help=f"server base URL (default: $OLLAMA_HOST or {DEFAULT_URL}; not used with --worker)",
    )
    run = parser.add_argument_group("what to run")
    run.add_argument("--profile", default="steady", choices=PROFILE_NAMES, help="load profile")
    run.add_argument(
        "--users",
        default=None,
        help="concurrent users (closed loop) or the user pool (open loop); for a sweep, "
        "a list: 1,2,4,8",
    )
    run.add_argument(
        "--rate",
        default=None,
        help="open-loop requests per second (constant, poisson); for a sweep, a list: 1,2,4",
    )
    run.add_argument("--duration", default="30s", help="run length (each sweep step), e.g. 30s")
    run.add_argument("--model", default="smollm2:135m", help="model for chat and generate")
    run.add_argument("--embed-model", default="", help="model for embed (default: --model)")
    run.add_argument(
        "--api",
        default="native",
        choices=APIS,
        help="native: NDJSON /api/*; openai: SSE /v1/*; anthropic: /v1/messages; "
        "responses: /v1/responses (chat and generate only)",
    )
    run.add_argument(
        "--slo", default="", help="goodput objectives, e.g. ttft_p95=500ms,itl_p95=50ms"
    )
    run.add_argument(
        "--max-tokens",
        type=int,
        default=0,
        help="output budget of every request (default: the dataset's)",
    )
    run.add_argument(
        "--mix", default="", help="override the profile's mix: chat=5,generate=3,embed=2"
    )
    run.add_argument(
        "--stages",
        default="",
        help="custom user stages LENGTH:USERS[:SPAWN_RATE],... (ramp profile)",
    )
    run.add_argument("--no-stream", action="store_true", help="send stream:false")
    run.add_argument("--seed", type=int, default=1, help="seed for request choice and arrivals")
    run.add_argument(
        "--request-timeout",
        type=float,
        default=300.0,
        help="seconds a read may stall before the request fails",
    )
    run.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds in-flight requests get to finish at the end",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--out", type=Path, default=None, help="report directory (default: reports/load-<UTC time>)"
    )
    out.add_argument("--json", action="store_true", help="print the summary JSON on stdout")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    dist = parser.add_argument_group("processes and machines (Locust's distributed mode)")
    dist.add_argument(
        "--processes", type=int, default=0, help="fork K Locust worker processes on this machine"
    )
    dist.add_argument(
        "--master",
        action="store_true",
        help="be the master: wait for --expect-workers workers, then run",
    )
    dist.add_argument("--expect-workers", type=int, default=1, help="workers the master waits for")
    dist.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="interface the master listens on (0.0.0.0 for other machines)",
    )
    dist.add_argument("--master-bind-port", type=int, default=5557, help="master's port")
    dist.add_argument(
        "--worker",
        action="store_true",
        help="be a worker of --master-host (it sends the options and the URL)",
    )
    dist.add_argument("--master-host", default="127.0.0.1", help="master to join as a worker")
    dist.add_argument("--master-port", type=int, default=5557, help="master's port")
    dist.add_argument(
        "--web",
        action="store_true",
        help="Locust's web UI instead of a headless run (start it from the page)",
    )
    dist.add_argument("--web-port", type=int, default=8089, help="web UI port on 127.0.0.1")
    parser.set_defaults(func=run_load)


def _options(args: argparse.Namespace, users: int, rate: float, profile: str) -> Any:
    from ollama_harness.load.options import RunOptions

    return RunOptions(
        workload=profile,
        model=args.model,
        embed_model=args.embed_model,
        api=args.api,
        duration=args.duration,
        rate=rate,
        slo=args.slo,
        max_tokens=args.max_tokens,
        mix=args.mix,
        stages=args.stages,
        seed=args.seed,
        request_timeout=args.request_timeout,
        drain_timeout=args.drain_timeout,
        no_stream=args.no_stream,
        users=users,
    )


def _number(text: str | None, what: str, kind: type) -> Any:
    if text is None:
        return 0
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"{what} must be >= 0")
    return value


def _exit_status(summary: dict[str, Any]) -> int:
    if summary["requests"]["ok"] == 0:
        return 1
    goodput = summary.get("goodput")
    if goodput and not goodput["met"]:
        return 3
    return 0


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    req, thr = summary["requests"], summary["throughput"]
    table = Table(title=f"load: {summary['run'].get('profile')} ({summary['window_s']:.1f} s)")
    for column in ("metric", "p50", "p90", "p95", "p99", "max", "count"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for name, label in (
        ("ttft", "TTFT ms"),
        ("itl", "ITL ms"),
        ("inter_chunk", "inter-chunk ms"),
        ("tpot", "TPOT ms"),
        ("e2e", "E2E ms"),
        ("queue", "queue ms"),
    ):
        stats = summary["latency_ms"].get(name)
        if stats:
            table.add_row(
                label,
                *(f"{stats[k]:.2f}" for k in ("p50", "p90", "p95", "p99", "max")),
                str(stats["count"]),
            )
    console.print(table)
    console.print(
        f"requests {req['total']} (ok {req['ok']}, errors {req['errors']}, cut off "
        f"{req['cut_off']}); {thr['requests_per_s']:.2f} req/s, "
        f"{thr['output_tokens_per_s']:.1f} output tok/s, "
        f"{thr['total_tokens_per_s']:.1f} total tok/s"
    )
    if summary["errors"]["by_kind"]:
        kinds = ", ".join(f"{k} {v}" for k, v in summary["errors"]["by_kind"].items())
        console.print(f"[red]errors by kind:[/red] {kinds}")
    rates = summary["rates_tps"]
    if rates.get("client_decode") and rates.get("server_decode"):
        console.print(
            f"decode rate p50: client {rates['client_decode']['p50']:.1f} tok/s, server "
            f"{rates['server_decode']['p50']:.1f} tok/s (eval_count/eval_duration)"
        )
    goodput = summary.get("goodput")
    if goodput:
        verdict = "[green]met[/green]" if goodput["met"] else "[red]missed[/red]"
        console.print(
            f"SLO {verdict}; goodput {goodput['requests_per_s']:.2f} req/s "
            f"({goodput['fraction']:.1%} of requests)"
        )
    cpu = summary["run"].get("generator_cpu_peak_percent")
    if cpu is not None and cpu >= 90:
        console.print(
            f"[yellow]the load generator peaked at {cpu:.0f}% CPU: latencies may be inflated; "
            "add --processes[/yellow]"
        )
    console.print(f"report: {out / 'report.html'}")


def _run_sweep(args: argparse.Namespace, url: str, out: Path) -> int:
    from ollama_harness.load.runner import run_sweep
    from ollama_harness.load.sweep import parse_levels

    if args.rate:
        mode, levels = "rate", parse_levels(args.rate, "--rate")
    elif args.users:
        mode, levels = "users", parse_levels(args.users, "--users")
    else:
        raise ValueError("a sweep needs levels: --users 1,2,4,8 or --rate 0.5,1,2")
    if mode == "users" and any(level != int(level) for level in levels):
        raise ValueError("--users levels must be whole numbers")
    pool = 0
    if mode == "rate" and args.users:
        pool = _number(args.users, "--users (the user pool of a rate sweep)", int)
    # check every option once before the first step starts
    if mode == "users":
        _options(args, int(levels[0]), 0.0, "steady").validate()
    else:
        _options(args, pool, levels[0], "poisson").validate()

    def on_step(level: float, summary: dict[str, Any]) -> None:
        thr = summary["throughput"]
        print(
            f"{mode} {level:g}: {thr['requests_per_s']:.2f} req/s, "
            f"{thr['output_tokens_per_s']:.1f} tok/s, errors {summary['requests']['errors']}",
            file=sys.stderr,
        )

    sweep = run_sweep(
        url,
        levels,
        out,
        mode=mode,
        duration=args.duration,
        model=args.model,
        api=args.api,
        slo=args.slo,
        processes=args.processes,
        show_progress=not args.quiet,
        on_step=on_step,
        embed_model=args.embed_model,
        max_tokens=args.max_tokens,
        mix=args.mix,
        seed=args.seed,
        request_timeout=args.request_timeout,
        drain_timeout=args.drain_timeout,
        no_stream=args.no_stream,
        users=pool,
    )
    sat = sweep["saturation"]
    if args.json:
        print(json.dumps(sweep, indent=1))
    if sat:
        reached = "" if sat["reached"] else " (not reached: raise the levels)"
        print(
            f"saturation at {mode} {sat['level']:g}: {sat['throughput']:.1f} "
            f"{sweep['throughput_key']}{reached}",
            file=sys.stderr,
        )
    if sweep.get("best_goodput"):
        best = sweep["best_goodput"]
        print(
            f"best goodput {best['goodput_per_s']:.2f} req/s at {mode} {best['level']:g}",
            file=sys.stderr,
        )
    print(f"report: {out / 'report.html'}", file=sys.stderr)
    return 0


def run_load(args: argparse.Namespace) -> int:
    from ollama_harness.load.runner import Distribution, LoadRunError, run_locust

    url = args.url or _default_url()
    out = args.out or Path("reports") / f"load-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    distribution = Distribution(
        processes=args.processes,
        master=args.master,
        expect_workers=args.expect_workers,
        master_bind_host=args.master_bind_host,
        master_bind_port=args.master_bind_port,
        worker=args.worker,
        master_host=args.master_host,
        master_port=args.master_port,
    )
    try:
        if args.processes < 0 or args.expect_workers < 1:
            raise ValueError("--processes must be >= 0 and --expect-workers >= 1")
        if sum((args.master, args.worker, bool(args.processes))) > 1:
            raise ValueError("use one of --processes, --master and --worker")
        if args.profile == "sweep":
            if args.web or args.master or args.worker:
                raise ValueError("a sweep runs headless on this machine (--processes is fine)")
            return _run_sweep(args, url, out)
        users = _number(args.users, "--users", int)
        rate = _number(args.rate, "--rate", float)
        options = _options(args, users, rate, args.profile)
        options.validate()
        if args.web and not args.quiet:
            print(
                f"Locust web UI: http://127.0.0.1:{args.web_port} (Ctrl-C to stop)", file=sys.stderr
            )
        summary = run_locust(
            options,
            None if args.worker else url,
            out,
            distribution=distribution,
            web=args.web,
            web_port=args.web_port,
            show_progress=not args.quiet and not args.web,
        )
    except ValueError as exc:
        print(f"ollama-harness load: {exc}", file=sys.stderr)
        return 2
    except LoadRunError as exc:
        print(f"ollama-harness load: {exc}", file=sys.stderr)
        return 1
    if summary is None:  # a worker: the master reports
        return 0
    if args.json:
        print(json.dumps(summary, indent=1))
    _print_summary(summary, out)
    return _exit_status(summary)
