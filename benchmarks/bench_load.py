"""The load tool's proofs, measured side by side in one run.

    python benchmarks/bench_load.py                 # overhead + accuracy (mock)
    python benchmarks/bench_load.py --reference     # + the reference server (llama.cpp)
    python benchmarks/bench_load.py --parts accuracy --api anthropic   # or responses

1. Overhead: non-streaming requests/s of one Locust process running our users
   against a bare Starlette endpoint, divided by the requests/s of a plain Locust
   ``FastHttpUser`` posting the same bodies to the same endpoint. Target >= 0.5.
   The two tools alternate (A B A B ...) and the median ratio is reported.
2. Accuracy: the mock at 100 ms TTFT and 10 ms per token, 32 concurrent streams:
   median TTFT within 3 ms of 100 ms, median ITL within 1 ms of 10 ms.
3. --reference: the reference server with the bundled model. At one stream the
   client-side decode rate must agree with eval_count / eval_duration within
   10%; then a sweep over concurrencies finds the saturation point.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import free_port, wait_for_port
from ollama_harness.load import run_profile, run_sweep
from ollama_harness.load.workload import Workload

BARE_SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    BODY = (b'{"model":"m","created_at":"2026-01-01T00:00:00Z","response":"Hello there, '
            b'how can I help?","done":true,"done_reason":"stop","total_duration":1000,'
            b'"load_duration":10,"prompt_eval_count":9,"prompt_eval_duration":100,'
            b'"eval_count":8,"eval_duration":800}')

    async def generate(request):
        await request.body()
        return Response(BODY, media_type="application/json")

    app = Starlette(routes=[Route("/api/generate", generate, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical",
                access_log=False)
    """
)

PLAIN_LOCUSTFILE = textwrap.dedent(
    """
    import json, os
    from locust import FastHttpUser, constant, task

    BODIES = json.loads(os.environ["BENCH_BODIES"])

    class PlainUser(FastHttpUser):
        wait_time = constant(0)

        def on_start(self):
            self.i = 0
            self.bodies = [b.encode() for b in BODIES]

        @task
        def generate(self):
            self.i += 1
            body = self.bodies[self.i % len(self.bodies)]
            self.client.post("/api/generate", data=body,
                             headers={"Content-Type": "application/json"})
    """
)


def plain_locust_rps(url: str, users: int, seconds: int, work: Path) -> float:
    locustfile = work / "plain_locustfile.py"
    locustfile.write_text(PLAIN_LOCUSTFILE)
    bodies = [
        r.body.decode() for r in Workload({"generate": 1.0}, stream=False).by_kind["generate"]
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "--host",
            url,
            "-u",
            str(users),
            "-r",
            "100",
            "-t",
            f"{seconds}s",
            "--only-summary",
            "--json",
            "--skip-log-setup",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
        env=dict(os.environ, BENCH_BODIES=json.dumps(bodies)),
    )
    stats = json.loads(result.stdout)
    entry = next(s for s in stats if s["name"] == "/api/generate")
    window = entry["last_request_timestamp"] - entry["start_time"]
    return float(entry["num_requests"]) / float(window)


def overhead(users: int, seconds: int, rounds: int, work: Path) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)])
    try:
        wait_for_port(port, server)
        url = f"http://127.0.0.1:{port}"
        ours, plain = [], []
        for i in range(rounds):
            summary = run_profile(
                url,
                "steady",
                work / f"ours-{i}",
                duration=f"{seconds}s",
                users=users,
                no_stream=True,
                mix="generate=1",
                drain_timeout=5.0,
            )
            assert summary["requests"]["errors"] == 0, summary["errors"]
            ours.append(summary["throughput"]["requests_per_s"])
            plain.append(plain_locust_rps(url, users, seconds, work))
            print(
                f"  round {i + 1}: ours {ours[-1]:.0f} req/s, plain FastHttpUser "
                f"{plain[-1]:.0f} req/s, ratio {ours[-1] / plain[-1]:.2f}"
            )
    finally:
        server.terminate()
        server.wait()
    ratios = [a / b for a, b in zip(ours, plain, strict=True)]
    return {"ours": ours, "plain": plain, "ratio_median": statistics.median(ratios)}


def read_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def accuracy(users: int, seconds: int, work: Path, api: str = "native") -> dict[str, Any]:
    from ollama_harness.mockserver.testing import MockServer

    with MockServer(ttft_ms=100, itl_ms=10, num_parallel=users) as mock:
        summary = run_profile(
            mock.url,
            "steady",
            work / "accuracy",
            duration=f"{seconds}s",
            users=users,
            max_tokens=64,
            api=api,
        )
    lat = summary["latency_ms"]
    # the mock's own inter-token gap per request: eval_duration spans eval_count - 1 gaps
    rows = read_rows(work / "accuracy" / "samples.csv")
    server_gaps = [
        int(row["eval_duration_ns"]) / 1e6 / (int(row["eval_count"]) - 1)
        for row in rows
        if row["eval_count"] and int(row["eval_count"]) > 1 and row["eval_duration_ns"]
    ]
    # the mock's own time to first token: from the request's arrival (load + prompt)
    server_ttft = [
        (int(row["load_duration_ns"] or 0) + int(row["prompt_eval_duration_ns"])) / 1e6
        for row in rows
        if row["prompt_eval_duration_ns"]
    ]
    # the Messages and Responses APIs report no durations: no server-side figures
    return {
        "server_ttft_p50": statistics.median(server_ttft) if server_ttft else None,
        "server_gap_p50": statistics.median(server_gaps) if server_gaps else None,
        "requests": summary["requests"]["ok"],
        "errors": summary["requests"]["errors"],
        "ttft_p50": lat["ttft"]["p50"],
        "itl_p50": lat["itl"]["p50"],
        "inter_chunk_p50": lat["inter_chunk"]["p50"],
        "client_decode_p50": (summary["rates_tps"]["client_decode"] or {}).get("p50"),
        "server_decode_p50": (summary["rates_tps"]["server_decode"] or {}).get("p50"),
    }


def reference(seconds: int, levels: list[float], work: Path) -> dict[str, Any]:
    models = work / "models"
    cli = [sys.executable, "-m", "ollama_harness"]
    subprocess.run([*cli, "models", "install-default", "--models", str(models)], check=True)
    port = free_port()
    server = subprocess.Popen(
        [
            *cli,
            "serve",
            "--host",
            f"127.0.0.1:{port}",
            "--models",
            str(models),
            "--num-parallel",
            str(int(max(levels))),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server, 120)
        url = f"http://127.0.0.1:{port}"
        # load the model first: its load time belongs to no steady-state figure
        warm = {
            "model": "smollm2:135m",
            "prompt": "Hi",
            "stream": False,
            "options": {"num_predict": 1},
        }
        httpx.post(url + "/api/generate", json=warm, timeout=600).raise_for_status()
        one = run_profile(
            url,
            "steady",
            work / "reference-1",
            duration=f"{seconds}s",
            users=1,
            max_tokens=64,
            mix="generate=1",
            drain_timeout=180.0,  # a slow CPU must not cut the last request off
        )
        rates = one["rates_tps"]
        sweep = run_sweep(
            url,
            levels,
            work / "reference-sweep",
            duration=f"{seconds}s",
            max_tokens=48,
            slo="ttft_p95=2s",
            drain_timeout=180.0,
        )
    finally:
        server.terminate()
        server.wait()
    client = rates["client_decode"]
    server_rate = rates["server_decode"]
    ttft = one["latency_ms"]["ttft"]
    return {
        "one_stream": {
            "requests": one["requests"]["ok"],
            "errors": one["requests"]["errors"],
            "client_decode_p50": client["p50"] if client else None,
            "server_decode_p50": server_rate["p50"] if server_rate else None,
            "ratio": rates["client_over_server_decode_p50"],
            "ttft_p50": ttft["p50"] if ttft else None,
        },
        "sweep": sweep,
        "sweep_dir": str(work / "reference-sweep"),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of each run")
    parser.add_argument("--rounds", type=int, default=3, help="overhead rounds (A B pairs)")
    parser.add_argument("--users", type=int, default=32, help="streams in the accuracy run")
    parser.add_argument("--overhead-users", type=int, default=16)
    parser.add_argument(
        "--reference", action="store_true", help="also measure the reference server"
    )
    parser.add_argument(
        "--parts",
        default="overhead,accuracy",
        help="comma list of overhead, accuracy, reference (default %(default)s)",
    )
    parser.add_argument("--levels", default="1,2,4", help="reference sweep concurrencies")
    parser.add_argument(
        "--api",
        default="native",
        choices=("native", "openai", "anthropic", "responses"),
        help="API of the accuracy run (default %(default)s)",
    )
    parser.add_argument("--keep", type=Path, help="keep the reports in this directory")
    args = parser.parse_args()
    parts = set(args.parts.split(",")) | ({"reference"} if args.reference else set())
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)

        if "overhead" in parts:
            print(f"overhead: {args.overhead_users} users, stream:false, {args.seconds}s per run")
            over = overhead(args.overhead_users, args.seconds, args.rounds, work)
            ok = over["ratio_median"] >= 0.5
            failed |= not ok
            print(
                f"overhead ratio (ours / plain FastHttpUser), median of {args.rounds}: "
                f"{over['ratio_median']:.2f}  target >= 0.5  {'PASS' if ok else 'FAIL'}"
            )

        if "accuracy" in parts:
            print(
                f"accuracy: mock at ttft=100ms itl=10ms, {args.users} streams, {args.seconds}s, "
                f"--api {args.api}"
            )
            acc = accuracy(args.users, args.seconds, work, args.api)
            ttft_ok = abs(acc["ttft_p50"] - 100.0) <= 3.0
            itl_ok = abs(acc["itl_p50"] - 10.0) <= 1.0
            failed |= not (ttft_ok and itl_ok) or acc["errors"] > 0
            print(f"  {acc['requests']} requests, {acc['errors']} errors")
            print(
                f"  median TTFT {acc['ttft_p50']:.2f} ms (|diff| {abs(acc['ttft_p50'] - 100):.2f} "
                f"<= 3)  {'PASS' if ttft_ok else 'FAIL'}"
            )
            print(
                f"  median ITL {acc['itl_p50']:.3f} ms (|diff| {abs(acc['itl_p50'] - 10):.3f} "
                f"<= 1)  {'PASS' if itl_ok else 'FAIL'}"
            )
            if acc["server_ttft_p50"] is not None and acc["server_gap_p50"] is not None:
                print(
                    f"  the mock's own TTFT (load + prompt_eval duration): median "
                    f"{acc['server_ttft_p50']:.2f} ms; client TTFT - server TTFT = "
                    f"{acc['ttft_p50'] - acc['server_ttft_p50']:+.2f} ms (HTTP, network, the tool)"
                )
                print(
                    f"  the mock's own gap between tokens (eval_duration / (eval_count - 1)): "
                    f"median {acc['server_gap_p50']:.3f} ms; client ITL - server gap = "
                    f"{acc['itl_p50'] - acc['server_gap_p50']:+.3f} ms (the tool's share)"
                )
                print(
                    f"  median inter-chunk {acc['inter_chunk_p50']:.3f} ms; decode p50 client "
                    f"{acc['client_decode_p50']:.1f} tok/s, server "
                    f"{acc['server_decode_p50']:.1f} tok/s"
                )
            else:
                print(f"  median inter-chunk {acc['inter_chunk_p50']:.3f} ms (no server figures)")

        if "reference" in parts:
            levels = [float(v) for v in args.levels.split(",")]
            print(f"reference server: smollm2:135m, {args.seconds}s per run")
            ref = reference(args.seconds, levels, work)
            one = ref["one_stream"]
            agree = one["ratio"] is not None and abs(one["ratio"] - 1.0) <= 0.10
            failed |= not agree
            print(
                f"  one stream: {one['requests']} requests, {one['errors']} errors, TTFT p50 "
                f"{fmt(one['ttft_p50'])} ms, decode p50 client {fmt(one['client_decode_p50'])} "
                f"tok/s vs server {fmt(one['server_decode_p50'])} tok/s: ratio "
                f"{fmt(one['ratio'], 3)} (within 10%: {'PASS' if agree else 'FAIL'})"
            )
            for p in ref["sweep"]["points"]:
                print(
                    f"  users {p['level']:g}: {p['requests_per_s']:.2f} req/s, "
                    f"{p['output_tokens_per_s']:.1f} tok/s, TTFT p50 {fmt(p['ttft_p50'])} ms, "
                    f"ITL p50 {fmt(p['itl_p50'])} ms, E2E p95 {fmt(p['e2e_p95'])} ms, "
                    f"errors {p['errors']}"
                )
            sat = ref["sweep"]["saturation"]
            print(
                f"  saturation at users {sat['level']:g} ({sat['throughput']:.1f} tok/s, "
                f"reached: {sat['reached']}); report {ref['sweep_dir']}/report.html"
            )
    print("FAIL" if failed else "all PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
