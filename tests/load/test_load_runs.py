"""Real Locust runs against the stub server (and the mock): what users measure end to end."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_harness.cli import main
from ollama_harness.load import LoadRunError, RunOptions, run_profile, run_sweep
from ollama_harness.load.runner import LOCUSTFILE
from tests.support import free_port, with_default_sigint


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "samples.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_native_mixed_run(stub_url: str, tmp_path: Path) -> None:
    summary = run_profile(
        stub_url, "mixed", tmp_path, duration="3s", users=3, max_tokens=12, slo="ttft_p95=1s"
    )
    req = summary["requests"]
    assert req["errors"] == 0 and req["ok"] == req["total"] > 20
    assert set(summary["by_kind"]) == {"chat", "generate", "embed"}
    assert summary["tokens"]["source"]["eval_count"] > 0
    ttft, itl = summary["latency_ms"]["ttft"], summary["latency_ms"]["itl"]
    # the stub: 20 ms to the first token, 5 ms per token; the bounds leave room for a
    # busy shared CPU (the strict accuracy check is benchmarks/bench_load.py)
    assert 19.0 < ttft["p50"] < 150.0
    assert 4.8 < itl["p50"] < 15.0
    assert summary["latency_ms"]["queue"]["p50"] < 5.0  # closed loop: sent when scheduled
    assert summary["goodput"]["met"] is True
    assert summary["run"]["url"] == stub_url
    samples = rows(tmp_path)
    assert len(samples) == req["total"]
    assert len({s["request_id"] for s in samples}) == len(samples)
    assert (tmp_path / "report.html").read_text().count('class="oh-chart"') == 7
    stats = (tmp_path / "locust-stdout.log").read_text()
    assert "TTFT     /api/chat" in stats  # the custom entries reach Locust's own table


def test_openai_sse_run(stub_url: str, tmp_path: Path) -> None:
    summary = run_profile(
        stub_url, "steady", tmp_path, duration="2s", users=2, api="openai", max_tokens=10
    )
    assert summary["requests"]["errors"] == 0 and summary["requests"]["ok"] > 5
    assert summary["tokens"]["source"] == {"usage": summary["requests"]["ok"]}
    endpoints = {s["endpoint"] for s in rows(tmp_path)}
    assert endpoints == {"/v1/chat/completions", "/v1/completions"}
    assert 19.0 < summary["latency_ms"]["ttft"]["p50"] < 150.0


@pytest.mark.parametrize(
    ("model", "kind"),
    [("missing", "http_404"), ("broken", "stream_error"), ("cut", "incomplete_stream")],
)
def test_failures_are_counted_by_kind(stub_url: str, tmp_path: Path, model: str, kind: str) -> None:
    summary = run_profile(
        stub_url, "steady", tmp_path, duration="1s", users=2, model=model, max_tokens=8
    )
    req = summary["requests"]
    assert req["total"] > 0 and req["ok"] == 0
    assert summary["errors"]["by_kind"] == {kind: req["total"]}
    assert summary["latency_ms"]["e2e"] is None  # failures never enter latency figures
    assert main(["report", str(tmp_path)]) == 0


def test_connection_refused_is_an_error_kind(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    summary = run_profile(f"http://127.0.0.1:{port}", "steady", tmp_path, duration="1s", users=1)
    assert summary["requests"]["ok"] == 0
    assert set(summary["errors"]["by_kind"]) == {"connection"}


def test_open_loop_measures_queueing(stub_url: str, tmp_path: Path) -> None:
    # 2 users can serve ~25 req/s of 8-token requests; 60/s arrive: requests wait
    summary = run_profile(
        stub_url, "constant", tmp_path, duration="2s", users=2, rate=60.0, max_tokens=8
    )
    queue = summary["latency_ms"]["queue"]
    ttft = summary["latency_ms"]["ttft"]
    assert queue["p95"] > 100.0
    # TTFT counts from the scheduled send, so it includes the wait
    assert ttft["p95"] > queue["p95"]
    assert summary["requests"]["total"] > 30


def test_non_streaming_run(stub_url: str, tmp_path: Path) -> None:
    summary = run_profile(
        stub_url, "steady", tmp_path, duration="1s", users=2, no_stream=True, max_tokens=6
    )
    assert summary["requests"]["streamed"] == 0 and summary["requests"]["ok"] > 0
    assert summary["latency_ms"]["ttft"] is None
    assert summary["tokens"]["output_total"] == 6 * summary["requests"]["ok"]


def test_bad_options_fail_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, message in [
        (["--profile", "poisson"], "give --rate"),
        (["--rate", "fast", "--profile", "constant"], "--rate must be a number"),
        (["--slo", "ttft=1"], "METRIC_STAT"),
        (["--processes", "2", "--master"], "one of --processes"),
        (["--profile", "sweep"], "a sweep needs levels"),
        (["--profile", "sweep", "--users", "4,2"], "increasing"),
        (["--duration=-1s"], "positive"),
    ]:
        assert main(["load", "http://127.0.0.1:9", "--out", str(tmp_path), *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "summary.json").exists()


def test_run_error_carries_the_log(tmp_path: Path) -> None:
    with pytest.raises(LoadRunError, match="wrote no summary"):
        from ollama_harness.load.runner import run_locust

        # Locust refuses --master together with --processes: the process fails
        options = RunOptions(duration="1s")
        from ollama_harness.load.runner import Distribution

        run_locust(
            options,
            "http://127.0.0.1:9",
            tmp_path,
            distribution=Distribution(processes=1, master=True),
        )


def test_accuracy_against_the_mock(tmp_path: Path) -> None:
    """Small version of benchmarks/bench_load.py: 100 ms TTFT, 10 ms per token."""
    testing = pytest.importorskip("ollama_harness.mockserver.testing")
    with testing.MockServer(ttft_ms=100, itl_ms=10, num_parallel=8) as mock:
        summary = run_profile(mock.url, "steady", tmp_path, duration="3s", users=8, max_tokens=16)
    assert summary["requests"]["errors"] == 0
    ttft, itl = summary["latency_ms"]["ttft"]["p50"], summary["latency_ms"]["itl"]["p50"]
    # nothing arrives before the mock sends it; a busy CPU only adds
    assert 100.0 <= ttft < 130.0
    # the mock keeps to its schedule: after a late first token the next ones catch up,
    # so a request's mean gap may sit a hair under the planned 10 ms
    assert 9.5 <= itl < 14.0
    # the tool's own share: the client's ITL against the mock's own gap between tokens
    samples = [s for s in rows(tmp_path) if s["eval_count"] and int(s["eval_count"]) > 1]
    server_gap = statistics.median(
        int(s["eval_duration_ns"]) / 1e6 / (int(s["eval_count"]) - 1) for s in samples
    )
    assert abs(itl - server_gap) < 1.0


@pytest.mark.slow
def test_sweep(stub_url: str, tmp_path: Path) -> None:
    sweep = run_sweep(stub_url, [1, 3], tmp_path, duration="1s", max_tokens=8, slo="ttft_p95=1s")
    assert [p["level"] for p in sweep["points"]] == [1, 3]
    assert sweep["points"][1]["requests_per_s"] > sweep["points"][0]["requests_per_s"]
    assert sweep["saturation"] is not None
    assert (tmp_path / "sweep.json").is_file() and (tmp_path / "report.html").is_file()
    assert (tmp_path / "step-02-users-3" / "summary.json").is_file()


@pytest.mark.slow
def test_cli_with_two_local_worker_processes(stub_url: str, tmp_path: Path) -> None:
    code = main(
        [
            "load",
            stub_url,
            "--profile",
            "steady",
            "--users",
            "4",
            "--duration",
            "2s",
            "--processes",
            "2",
            "--max-tokens",
            "8",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0
    samples = rows(tmp_path)
    assert {s["worker"] for s in samples} == {"0", "1"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests"]["total"] == len(samples)


@pytest.mark.slow
def test_master_and_two_worker_processes(stub_url: str, tmp_path: Path) -> None:
    """The documented distributed mode, on one machine: samples reach the master."""
    port = str(free_port())
    cli = [sys.executable, "-m", "ollama_harness", "load"]
    workers = [
        subprocess.Popen(
            [*cli, "--worker", "--master-port", port, "--out", str(tmp_path / f"w{i}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        master = subprocess.run(
            [
                *cli,
                stub_url,
                "--master",
                "--expect-workers",
                "2",
                "--master-bind-port",
                port,
                "--profile",
                "poisson",
                "--rate",
                "20",
                "--users",
                "4",
                "--duration",
                "2s",
                "--max-tokens",
                "8",
                "--out",
                str(tmp_path / "m"),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert master.returncode == 0, master.stderr[-3000:]
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    samples = rows(tmp_path / "m")
    assert {s["worker"] for s in samples} == {"0", "1"}
    # 20/s for 2 s, Poisson (mean 40). The lower bound is loose on purpose: on a loaded
    # 2-core host the workers start late into the 2 s and an open loop sends less.
    assert 8 <= len(samples) <= 60


@pytest.mark.slow
def test_plain_locust_runs_the_locustfile(stub_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            stub_url,
            "-u",
            "2",
            "--workload",
            "embed",
            "--duration",
            "1s",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary: dict[str, Any] = json.loads((tmp_path / "summary.json").read_text())
    assert summary["run"]["profile"] == "embed"
    assert summary["by_kind"]["embed"]["requests"] > summary["by_kind"].get("chat", {}).get(
        "requests", 0
    )


@pytest.mark.slow
def test_web_ui_mode(stub_url: str, tmp_path: Path) -> None:
    """--web serves Locust's UI; a test started there runs the profile; Ctrl-C ends it."""
    import signal
    import time

    import httpx

    port = free_port()
    process = subprocess.Popen(
        with_default_sigint(
            [
                sys.executable,
                "-m",
                "ollama_harness",
                "load",
                stub_url,
                "--web",
                "--web-port",
                str(port),
                "--duration",
                "1s",
                "--users",
                "2",
                "--max-tokens",
                "6",
                "--out",
                str(tmp_path),
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ui = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(ui + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the web UI did not come up"
            time.sleep(0.3)
        started = httpx.post(ui + "/swarm", data={"user_count": 2, "spawn_rate": 2}, timeout=10)
        assert started.json()["success"] is True
        while not (tmp_path / "summary.json").is_file():
            assert time.monotonic() < deadline + 60, "the run wrote no summary"
            time.sleep(0.3)
        status = Path(f"/proc/{process.pid}/status")
        masks = [ln for ln in status.read_text().splitlines() if ln.startswith("Sig")]
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        # The CLI gives Locust drain_timeout + 30 s to quit before it kills it: wait
        # past that, so a Locust that hangs on quitting shows as such, with its log.
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        quit_s = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    log = tmp_path / "locust.log"
    tail = log.read_text(errors="replace")[-3000:] if log.is_file() else "(no locust.log)"
    assert quit_s < 30, f"Ctrl-C took {quit_s:.0f} s to end the session {masks}\n{output}\n{tail}"
    assert process.returncode == 0, output
    assert "report:" in output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests"]["ok"] > 0


def test_cli_exit_status_follows_the_slo(
    stub_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [stub_url, "--users", "2", "--duration", "1s", "--max-tokens", "6", "--quiet"]
    assert main(["load", *common, "--slo", "ttft_p95=1ms", "--out", str(tmp_path / "a")]) == 3
    assert (
        main(["load", *common, "--slo", "ttft_p95=5s", "--json", "--out", str(tmp_path / "b")]) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["goodput"]["met"] is True
    assert printed["run"]["generator_cpu_peak_percent"] >= 0


@pytest.mark.parametrize(
    ("api", "endpoint"), [("anthropic", "/v1/messages"), ("responses", "/v1/responses")]
)
def test_compat_api_runs_against_the_mock(api: str, endpoint: str, tmp_path: Path) -> None:
    """--api anthropic / responses: TTFT and ITL from the text deltas, tokens from usage."""
    testing = pytest.importorskip("ollama_harness.mockserver.testing")
    with testing.MockServer(ttft_ms=50, itl_ms=5, num_parallel=4) as mock:
        summary = run_profile(
            mock.url, "steady", tmp_path, duration="2s", users=4, api=api, max_tokens=12
        )
    assert summary["requests"]["errors"] == 0 and summary["requests"]["ok"] > 5
    assert summary["tokens"]["source"] == {"usage": summary["requests"]["ok"]}
    assert {s["endpoint"] for s in rows(tmp_path)} == {endpoint}
    assert 50.0 <= summary["latency_ms"]["ttft"]["p50"] < 120.0
    assert 4.5 <= summary["latency_ms"]["itl"]["p50"] < 12.0
    assert (tmp_path / "report.html").read_text().count('class="oh-chart"') >= 5


def test_compat_api_refuses_an_embed_mix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no embeddings"):
        run_profile("http://127.0.0.1:9", "mixed", tmp_path, duration="1s", api="anthropic")
