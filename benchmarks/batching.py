"""Continuous batching, side by side: the reference server against llama.cpp's own server.

Used by ``bench_realserver.py``. llama.cpp's server comes from the ``xllamacpp``
wheel (the ``bench`` extra), which ships it prebuilt: ``xllamacpp.CommonParams``
plus ``xllamacpp.Server``, run in a child process with the same GGUF, threads,
``n_parallel`` and per-sequence context as ours. Both get the same prompt (ours
templates it, theirs receives the templated text) and produce the same number of
tokens (greedy, a fixed ``num_predict``; theirs with ``ignore_eos``).

Figures: aggregate output tokens/s at 1, 2, 4 and 8 concurrent streams for
num_parallel 4 and 8 (target >= 0.95x theirs at every level, and never below our
own 1-stream figure); the TTFT of a request arriving while 3 others stream (target
<= 2x its idle TTFT); the resident memory with num_parallel 1 and 4 beside one
sequence's KV cache (target: RSS(4) <= (RSS(1) + 3 x KV) x 1.1).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.machine import cpu_times, describe_steal, free_port, steal_percent, two_series

TOKENS = 200
LEVELS = (1, 2, 4, 8)
MODEL = "smollm2:135m"

_XLLAMACPP_SERVER = """
import sys, time
import xllamacpp
path, parallel, ctx, threads, port = sys.argv[1:6]
params = xllamacpp.CommonParams()
params.model.path = path
params.n_parallel = int(parallel)
params.n_ctx = int(ctx) * int(parallel)
params.n_batch = 512
params.cpuparams.n_threads = int(threads)
params.cpuparams_batch.n_threads = int(threads)
params.port = int(port)
params.kv_unified = False
params.no_extra_bufts = True
server = xllamacpp.Server(params)
print(server.listening_address, flush=True)
while True:
    time.sleep(3600)
"""


def xllamacpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("xllamacpp") is not None


def wait_until(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def start_ours(
    store: Path, threads: int, num_parallel: int, num_ctx: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ollama_harness",
            "serve",
            "--host",
            f"127.0.0.1:{port}",
            "--models",
            str(store),
            "--num-thread",
            str(threads),
            "--context-length",
            str(num_ctx),
            "--num-parallel",
            str(num_parallel),
            "--keep-alive",
            "-1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(url, process)
    return process, url


def start_theirs(
    model: Path, threads: int, num_parallel: int, num_ctx: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [str(model), str(num_parallel), str(num_ctx), str(threads), str(port)]
    process = subprocess.Popen(
        [sys.executable, "-c", _XLLAMACPP_SERVER, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(f"{url}/health", process)
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- one stream on each side -------------------------------------------------------------


def ours_stream(client: httpx.Client, prompt: str, tokens: int, seed: int) -> tuple[int, float]:
    """(output tokens, s to the first text) of one streamed /api/generate.

    The client is made beforehand: building one (httpx loads an SSL context) takes
    tens of ms of the two cores, which would count as the server's TTFT.
    """
    options = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": tokens, "seed": seed}
    body = {"model": MODEL, "prompt": prompt, "options": options}
    sent = time.perf_counter()
    first = 0.0
    count = 0
    with client.stream("POST", "/api/generate", json=body) as response:
        for line in response.iter_lines():
            if not line:
                continue
            data = json.loads(line)
            if data.get("response") and not first:
                first = time.perf_counter() - sent
            if data.get("done"):
                count = int(data.get("eval_count", 0))
    return count, first


def theirs_stream(client: httpx.Client, prompt: str, tokens: int, seed: int) -> tuple[int, float]:
    """(output tokens, s to the first text) of one streamed /completion of llama.cpp's server."""
    body = {
        "prompt": prompt,
        "n_predict": tokens,
        "ignore_eos": True,
        "temperature": 0,
        "repeat_penalty": 1.0,
        "seed": seed,
        "stream": True,
        "cache_prompt": True,
    }
    sent = time.perf_counter()
    first = 0.0
    count = 0
    with client.stream("POST", "/completion", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = json.loads(line[6:])
            if data.get("content") and not first:
                first = time.perf_counter() - sent
            if data.get("stop"):
                count = int(data.get("tokens_predicted", 0))
    return count, first


Client = Callable[[httpx.Client, str, int, int], tuple[int, float]]


def aggregate(client: Client, url: str, prompt: str, streams: int) -> float:
    """Output tokens/s of ``streams`` concurrent generations, first send to last byte."""
    counts: list[int] = []
    lock = threading.Lock()
    ready = threading.Barrier(streams + 1)

    def one(index: int) -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            ready.wait()
            count, _ = client(http, prompt, TOKENS, index)
        with lock:
            counts.append(count)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    ready.wait()  # every stream's client is built: the clock starts with the sends
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert all(c == TOKENS for c in counts), f"short generations: {counts}"
    return sum(counts) / elapsed


def _one_shot(client: Client, url: str, prompt: str, tokens: int) -> None:
    with httpx.Client(base_url=url, timeout=600) as http:
        client(http, prompt, tokens, 0)


# -- the comparisons ---------------------------------------------------------------------


def throughput(
    model: Path, store: Path, question: str, prompt: str, *, threads: int, rounds: int
) -> None:
    """Ours gets ``question`` (and templates it), theirs ``prompt``, the templated text."""
    if not xllamacpp_available():
        print(
            "aggregate tokens/s vs llama.cpp's server: xllamacpp is not installed "
            "(pip install -e '.[bench]'); skipped"
        )
        return
    for num_parallel in (4, 8):
        ours, ours_url = start_ours(store, threads, num_parallel, 2048)
        theirs, theirs_url = start_theirs(model, threads, num_parallel, 2048)
        try:
            # Warm both (model loaded, prompt cached) before measuring.
            _one_shot(ours_stream, ours_url, question, 4)
            _one_shot(theirs_stream, theirs_url, prompt, 4)
            before = cpu_times()
            ours_rates: dict[int, list[float]] = {n: [] for n in LEVELS}
            theirs_rates: dict[int, list[float]] = {n: [] for n in LEVELS}
            for round_ in range(rounds):
                for level in LEVELS:
                    # The two sides take turns at going first, so that a host getting
                    # faster or slower within a pair favours neither.
                    sides = [
                        (ours_rates, ours_stream, ours_url, question),
                        (theirs_rates, theirs_stream, theirs_url, prompt),
                    ]
                    for rates, client, url, text in sides if round_ % 2 == 0 else sides[::-1]:
                        rates[level].append(aggregate(client, url, text, level))
                        time.sleep(0.3)
            steal = steal_percent(before, cpu_times())
        finally:
            stop(ours)
            stop(theirs)
        print(
            f"aggregate output tok/s, num_parallel {num_parallel}, {threads} threads, "
            f"{TOKENS} tokens per stream, median of {rounds} ({describe_steal(steal)}):"
        )
        single = statistics.median(ours_rates[1])
        for level in LEVELS:
            o, t = statistics.median(ours_rates[level]), statistics.median(theirs_rates[level])
            paired = statistics.median(
                a / b for a, b in zip(ours_rates[level], theirs_rates[level], strict=True)
            )
            verdicts = ["met" if paired >= 0.95 else "MISSED"]
            if level > 1:
                verdicts.append("not below 1 stream" if o >= single else "BELOW 1 stream")
            print(
                f"  {level} stream(s): ours {o:6.1f}, llama.cpp server {t:6.1f}, "
                f"paired ratio {paired:.3f} (target >= 0.95: {', '.join(verdicts)})"
            )
            print(
                two_series(
                    "    per round",
                    ("ours", ours_rates[level]),
                    ("theirs", theirs_rates[level]),
                )
            )


def ttft_under_load(store: Path, question: str, threads: int, samples: int) -> None:
    """TTFT of a request that arrives while 3 others stream, against its idle TTFT.

    Every arriving request has a prompt of its own (a numbered question), so that
    idle and busy ones find the same cache: the system prompt, held by every
    sequence, and nothing of the rest. Its prompt is evaluated in the steps the
    three others decode in, which is what this figure is about.
    """
    ours, url = start_ours(store, threads, 4, 2048)
    numbers = iter(range(10_000))

    def arriving(http: httpx.Client) -> float:
        text = f"Question {next(numbers)}: {question.replace('Roman', 'Ottoman')}"
        return ours_stream(http, text, 2, 0)[1] * 1000

    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            ours_stream(http, question, 4, 0)  # loads the model
            arriving(http)
            idle = []
            for _ in range(samples):
                time.sleep(0.2)
                idle.append(arriving(http))
            stop_flag = threading.Event()

            def background(seed: int) -> None:
                with httpx.Client(base_url=url, timeout=600) as own:
                    while not stop_flag.is_set():
                        ours_stream(own, question, 400, seed)

            streams = [threading.Thread(target=background, args=(i,)) for i in range(3)]
            for thread in streams:
                thread.start()
            time.sleep(2.0)  # the three are decoding
            busy = []
            for _ in range(samples):
                time.sleep(0.2)
                busy.append(arriving(http))
            stop_flag.set()
            for thread in streams:
                thread.join()
    finally:
        stop(ours)
    ratio = statistics.median(busy) / statistics.median(idle)
    verdict = "met" if ratio <= 2.0 else "MISSED"
    print(
        f"TTFT while 3 others stream: {statistics.median(busy):.1f} ms vs idle "
        f"{statistics.median(idle):.1f} ms (medians of {samples}); ratio {ratio:.2f} "
        f"(target <= 2: {verdict})"
    )
    print(two_series("  per sample, ms", ("idle", idle), ("busy", busy), digits=0))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def memory(store: Path, question: str, threads: int, kv_per_sequence: int) -> None:
    """Resident set with num_parallel 1 and 4, the model loaded and one request served."""
    figures: dict[int, tuple[int, int]] = {}
    for num_parallel in (1, 4):
        ours, url = start_ours(store, threads, num_parallel, 2048)
        try:
            _one_shot(ours_stream, url, question, 8)
            time.sleep(0.5)
            size = httpx.get(f"{url}/api/ps").json()["models"][0]["size"]
            figures[num_parallel] = (_rss_bytes(ours.pid), int(size))
        finally:
            stop(ours)
    (rss1, ps1), (rss4, ps4) = figures[1], figures[4]
    limit = (rss1 + 3 * kv_per_sequence) * 1.1
    mb = 1024 * 1024
    print(
        f"memory: RSS num_parallel 1 {rss1 / mb:.0f} MB, num_parallel 4 {rss4 / mb:.0f} MB, "
        f"one sequence's KV cache at num_ctx 2048 {kv_per_sequence / mb:.0f} MB; "
        f"limit (RSS1 + 3 KV) x 1.1 = {limit / mb:.0f} MB: "
        + ("met" if rss4 <= limit else "MISSED")
    )
    print(f"  /api/ps size: {ps1 / mb:.0f} MB and {ps4 / mb:.0f} MB")


def kv_bytes_per_sequence(model: Path, num_ctx: int) -> int:
    from ollama_harness.realserver.gguf_info import read_gguf

    gguf = read_gguf(model)
    heads = int(gguf.arch_key("attention.head_count", 1) or 1)
    kv_heads = int(gguf.arch_key("attention.head_count_kv", heads) or heads)
    width = gguf.embedding_length // heads * kv_heads
    return num_ctx * gguf.block_count * width * 2 * 2  # f16 keys and values


def run_all(
    model: Path, store: Path, question: str, prompt: str, *, threads: int, rounds: int
) -> None:
    import llama_cpp

    print(f"load average before the batching comparisons {os.getloadavg()[0]:.2f}")
    throughput(model, store, question, prompt, threads=threads, rounds=rounds)
    ttft_under_load(store, question, threads, samples=10)
    memory(store, question, threads, kv_bytes_per_sequence(model, 2048))
    if not llama_cpp.llama_supports_gpu_offload():
        print(
            "GPU: this llama-cpp-python is a CPU build and no GPU was available to this "
            "run; the CUDA comparison was not made"
        )
    print(f"load average after the batching comparisons {os.getloadavg()[0]:.2f}")
