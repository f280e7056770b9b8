"""The reference server against llama-cpp-python, side by side, in one run.

Same GGUF, same prompt, same thread count, greedy sampling, 200 output tokens:

1. streaming decode tokens/s through ``/api/generate`` vs in-process
   ``Llama.create_completion(stream=True)`` (target ratio >= 0.97);
2. warm time to first token, server minus in-process (target <= 5 ms), taken
   on TTFT minus the prompt's evaluation (which both sides time) so that the
   host's noise in that evaluation drops out; beside it the whole-TTFT
   differences and the bare HTTP round trip of the server after the same idle gap;
3. ``/v1/chat/completions`` streaming vs llama-cpp-python's bundled server
   (``python -m llama_cpp.server``) on the same messages (target ratio >= 1.0);
4. continuous batching against llama.cpp's own server (``xllamacpp``, the ``bench``
   extra): aggregate output tokens/s at 1, 2, 4 and 8 concurrent streams with
   num_parallel 4 and 8, the TTFT of a request arriving while 3 others stream, and
   the resident memory with num_parallel 1 and 4 (see ``benchmarks/batching.py``).

The server's side of 1 and 2 is read with the standard library's ``http.client``,
stamping lines as they arrive and parsing them after the stream: the client
shares the two cores with the server, and what it spends per token or per
request is the client's cost, not the server's. (In an instrumented run, httpx
took 1.3 ms from the call to the request's bytes reaching the server where
http.client took 0.4 ms; the TTFT through httpx is printed beside.)

Measurements alternate between the two sides round by round, so that load from
other processes hits both alike; medians are reported. Decode rate is
(tokens - 1) / (last token - first token) as the client sees it, on both sides.

Run: ``python benchmarks/bench_realserver.py [--rounds 8] [--threads 2] [--parts batching]``
(needs the reference extra, ``llama-cpp-python[server]``, and the bundled model,
which it installs into a temporary store from the download cache).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import batching  # noqa: E402
from benchmarks.machine import (  # noqa: E402
    cpu_times,
    describe_steal,
    free_port,
    steal_percent,
    two_series,
)
from ollama_harness.realserver.bundled import install  # noqa: E402
from ollama_harness.realserver.engine import use_extra_buffers  # noqa: E402
from ollama_harness.realserver.store import MEDIA_MODEL, MEDIA_SYSTEM, ModelStore  # noqa: E402

MODEL = "smollm2:135m"
QUESTION = "Write a long, detailed essay about the history of the Roman Empire."
TOKENS = 200
# Above this share of CPU time taken by the hypervisor, a run says its figures are suspect.
BUSY_HOST_STEAL = 2.0
# Same sampling on both sides: greedy, no repetition penalty (llama-cpp-python's default).
OPTIONS = {"temperature": 0, "repeat_penalty": 1.0, "num_predict": TOKENS}


@dataclass
class Stream:
    ttft: float  # s from send to the first non-empty text
    decode_rate: float  # tokens/s between first and last token
    tokens: int
    total: float  # s, send to last byte
    prompt_eval: float = 0.0  # s the prompt's evaluation took, as the server reports it


def wait_for(url: str, process: subprocess.Popen[bytes], deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def rate(stamps: list[float], tokens: int) -> float:
    if tokens < 2 or len(stamps) < 2:
        return 0.0
    return (tokens - 1) / (stamps[-1] - stamps[0])


# -- the four contenders ---------------------------------------------------------------


def in_process(llm: Any, prompt: str) -> Stream:
    sent = time.perf_counter()
    stamps = []
    for chunk in llm.create_completion(
        prompt, max_tokens=TOKENS, temperature=0, repeat_penalty=1.0, stream=True
    ):
        if chunk["choices"][0]["text"]:
            stamps.append(time.perf_counter())
    return Stream(stamps[0] - sent, rate(stamps, len(stamps)), len(stamps), stamps[-1] - sent)


def in_process_ttft(llm: Any, prompt: str) -> tuple[float, float]:
    """(ms from the call to the first chunk with text, ms its prompt evaluation took).

    The prompt evaluation is the first ``Llama.eval`` call, the one the server
    times as ``prompt_eval_duration``; the server's figure also holds its prefix
    comparison and cache trim (under 0.1 ms in an instrumented run), which the
    overhead computed from it therefore leaves out.

    The stream is read to its end, as the server's is: stopping right after the
    first token would leave the prompt's logits live in the context, and the next
    call would sample from them without evaluating anything (a 1 ms "TTFT" no
    request with a finished predecessor ever sees).
    """
    evals: list[float] = []
    evaluate = llm.eval

    def timed_eval(tokens: Any) -> None:
        started = time.perf_counter()
        evaluate(tokens)
        evals.append(time.perf_counter() - started)

    llm.eval = timed_eval  # shadows the method for this call only
    try:
        sent = time.perf_counter()
        first = 0.0
        for chunk in llm.create_completion(
            prompt, max_tokens=2, temperature=0, repeat_penalty=1.0, stream=True
        ):
            if chunk["choices"][0]["text"] and not first:
                first = time.perf_counter()
    finally:
        del llm.eval
    return (first - sent) * 1000, evals[0] * 1000


def native(client: httpx.Client, body: dict[str, Any]) -> Stream:
    sent = time.perf_counter()
    stamps = []
    tokens = 0
    with client.stream("POST", "/api/generate", json=body) as response:
        for line in response.iter_lines():
            if not line:
                continue
            data = json.loads(line)
            if data.get("response"):
                stamps.append(time.perf_counter())
            if data.get("done"):
                tokens = int(data["eval_count"])
    end = time.perf_counter()
    return Stream(stamps[0] - sent, rate(stamps, tokens), tokens, end - sent)


def openai_chat(client: httpx.Client, model: str) -> Stream:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": TOKENS,
        "temperature": 0,
        "stream": True,
    }
    sent = time.perf_counter()
    stamps = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                stamps.append(time.perf_counter())
    end = time.perf_counter()
    # Both servers send one token per chunk here; chunks are the common token count.
    return Stream(stamps[0] - sent, rate(stamps, len(stamps)), len(stamps), end - sent)


def reconnect_if_closed(connection: http.client.HTTPConnection) -> None:
    """Open the connection again, outside the timing, if the server closed it while idle.

    (uvicorn closes idle keep-alive connections after 5 s; http.client does not
    notice until its next request fails.)
    """
    sock = connection.sock
    if sock is not None:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable or sock.recv(1, socket.MSG_PEEK) != b"":
            return  # open and quiet (the usual case), or bytes the next response reads
        connection.close()
    connection.connect()


def lean_stream(connection: http.client.HTTPConnection, body: bytes) -> Stream:
    """``/api/generate`` through the standard library's client, lines parsed after the end.

    The client shares the machine with the server, so it does as little as it can
    while tokens arrive: it stamps each line and parses them once the stream is
    over. The stream is read to its end, so the keep-alive connection is reused.
    """
    reconnect_if_closed(connection)
    sent = time.perf_counter()
    connection.request("POST", "/api/generate", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.status
    arrivals = []
    while line := response.readline():
        arrivals.append((time.perf_counter(), line))
    end = time.perf_counter()
    stamps = []
    tokens = 0
    prompt_eval = 0.0
    for stamp, line in arrivals:
        data = json.loads(line)
        if data.get("response"):
            stamps.append(stamp)
        if data.get("done"):
            tokens = int(data["eval_count"])
            prompt_eval = int(data.get("prompt_eval_duration", 0)) / 1e9
    return Stream(stamps[0] - sent, rate(stamps, tokens), tokens, end - sent, prompt_eval)


def round_trip_ms(connection: http.client.HTTPConnection) -> float:
    """A request that does no work: what HTTP and waking the server cost by themselves."""
    reconnect_if_closed(connection)
    sent = time.perf_counter()
    connection.request("GET", "/api/version")
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    return (time.perf_counter() - sent) * 1000


# -- setup -------------------------------------------------------------------------------


def prepared_store(root: Path) -> tuple[Path, str]:
    """The bundled model in a temporary store: (GGUF path, default system prompt)."""
    store = ModelStore(root)
    stored = install(store)
    weights = stored.manifest.layer(MEDIA_MODEL)
    system_layer = stored.manifest.layer(MEDIA_SYSTEM)
    assert weights is not None and system_layer is not None
    return store.blob_path(weights.digest), store.read_blob(system_layer.digest).decode()


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def llama_cpp_server(model: Path, threads: int, port: int) -> subprocess.Popen[bytes]:
    # Started through a wrapper so that it runs with the same llama.cpp settings as
    # ours (extra CPU buffers off: they crash on this machine's AMX).
    code = (
        "import runpy, sys; from realserver.engine import use_extra_buffers; "
        "use_extra_buffers(False); sys.argv = ['llama_cpp.server'] + sys.argv[1:]; "
        "runpy.run_module('llama_cpp.server', run_name='__main__')"
    )
    return start(
        [
            sys.executable,
            "-c",
            code,
            "--model",
            str(model),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--n_batch",
            "512",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--verbose",
            "False",
        ],
        env={"PYTHONPATH": str(ROOT)},
    )


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]]

    def add(self, name: str, ours: float, theirs: float, unit: str) -> None:
        self.rows.append(
            (name, f"{ours:.2f} {unit}", f"{theirs:.2f} {unit}", f"{ours / theirs:.3f}")
        )

    def print(self) -> None:
        widths = [max(len(row[i]) for row in self.rows) for i in range(4)]
        for row in self.rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))


def median(values: Iterator[float] | list[float]) -> float:
    return statistics.median(list(values))


def paired(ours: list[float], theirs: list[float]) -> float:
    """Median of the differences within pairs: cancels the machine's drift between pairs."""
    return median(o - t for o, t in zip(ours, theirs, strict=True))


def ttft_overhead(
    ttft_ours: list[float],
    eval_ours: list[float],
    ttft_theirs: list[float],
    eval_theirs: list[float],
) -> float:
    """Print the warm TTFT overhead and its parts; return the verdict's figure (ms).

    A warm TTFT is the one-token evaluation of the prompt's end (11-50 ms here,
    varying with what the host does) plus everything around it (a few ms). The
    evaluation is the same work on both sides and both sides time it, so the
    overhead is taken on TTFT minus evaluation, where the host's noise is small;
    should the server's evaluation itself be slower, that difference (the median
    of the paired differences, when positive) is added back.
    """
    rest_ours = [t - e for t, e in zip(ttft_ours, eval_ours, strict=True)]
    rest_theirs = [t - e for t, e in zip(ttft_theirs, eval_theirs, strict=True)]
    around = paired(rest_ours, rest_theirs)
    evaluation = paired(eval_ours, eval_theirs)
    overhead = around + max(0.0, evaluation)
    print(f"warm TTFT overhead: {overhead:+.2f} ms (target <= 5 ms; {len(ttft_ours)} pairs)")
    print(
        f"  TTFT minus prompt evaluation, median of paired differences {around:+.2f} ms "
        f"(medians: ours {median(rest_ours):.2f}, in-process {median(rest_theirs):.2f} ms)"
    )
    print(
        f"  prompt evaluation, median of paired differences {evaluation:+.2f} ms "
        f"(medians: ours {median(eval_ours):.2f}, in-process {median(eval_theirs):.2f} ms); "
        "counted when positive"
    )
    print(
        f"  whole TTFT: median of paired differences {paired(ttft_ours, ttft_theirs):+.2f} ms, "
        f"difference of the medians {median(ttft_ours) - median(ttft_theirs):+.2f} ms"
    )
    return overhead


def single_stream(model_path: Path, store: Path, prompt: str, args: argparse.Namespace) -> None:
    """Comparisons 1 to 3: one stream at a time, against llama-cpp-python."""
    import llama_cpp

    ours_port, theirs_port = free_port(), free_port()
    ours = start(
        [
            sys.executable,
            "-m",
            "ollama_harness",
            "serve",
            "--host",
            f"127.0.0.1:{ours_port}",
            "--models",
            str(store),
            "--num-thread",
            str(args.threads),
            "--context-length",
            "2048",
            "--num-parallel",
            "4",
            "--keep-alive",
            "-1",
        ]
    )
    theirs = llama_cpp_server(model_path, args.threads, theirs_port)
    ours_url, theirs_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
    try:
        wait_for(ours_url, ours)
        wait_for(f"{theirs_url}/v1/models", theirs)
        llm = llama_cpp.Llama(
            str(model_path),
            n_ctx=2048,
            n_batch=512,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            verbose=False,
        )
        body = {"model": MODEL, "prompt": QUESTION, "options": OPTIONS}
        table = Table([("measure", "ollama-harness", "llama-cpp-python", "ratio")])
        body_bytes = json.dumps(body).encode()
        lean = http.client.HTTPConnection("127.0.0.1", ours_port, timeout=600)
        with (
            httpx.Client(base_url=ours_url, timeout=600) as client,
            httpx.Client(base_url=theirs_url, timeout=600) as other,
        ):
            # Warm both sides (model loaded, prompt cached) before measuring.
            lean_stream(lean, body_bytes)
            in_process(llm, prompt)
            openai_chat(client, MODEL)
            openai_chat(other, str(model_path))

            decode_ours, decode_theirs = [], []
            run_cpu = cpu_times()
            for _ in range(args.rounds):
                decode_ours.append(lean_stream(lean, body_bytes))
                time.sleep(0.5)  # idle llama.cpp threads of one side spin a while
                decode_theirs.append(in_process(llm, prompt))
                time.sleep(0.5)
            assert all(s.tokens == TOKENS for s in decode_ours), "short generation"
            table.add(
                "decode tok/s, /api/generate vs in-process",
                median(s.decode_rate for s in decode_ours),
                median(s.decode_rate for s in decode_theirs),
                "tok/s",
            )
            short = {**body, "options": {**OPTIONS, "num_predict": 2}}
            short_bytes = json.dumps(short).encode()
            ttft_ours, ttft_httpx, ttft_theirs, round_trips = [], [], [], []
            eval_ours, eval_theirs = [], []  # ms of each sample's prompt evaluation
            ttft_cpu = cpu_times()
            for sample in range(args.ttft_samples):
                # Every measurement follows the same 0.2 s idle gap (a warm model on
                # an idle machine). The two sides take turns at going first, so
                # that neither always runs right after the other's generation.
                for side in ("ours", "theirs") if sample % 2 == 0 else ("theirs", "ours"):
                    time.sleep(0.2)
                    if side == "ours":
                        sample_stream = lean_stream(lean, short_bytes)
                        ttft_ours.append(sample_stream.ttft * 1000)
                        eval_ours.append(sample_stream.prompt_eval * 1000)
                    else:
                        ttft, evaluation = in_process_ttft(llm, prompt)
                        ttft_theirs.append(ttft)
                        eval_theirs.append(evaluation)
                time.sleep(0.2)
                ttft_httpx.append(native(client, short).ttft * 1000)
                time.sleep(0.2)
                round_trips.append(round_trip_ms(lean))
            table.add("warm TTFT", median(ttft_ours), median(ttft_theirs), "ms")
            table.add("warm TTFT through httpx", median(ttft_httpx), median(ttft_theirs), "ms")
            ttft_steal = steal_percent(ttft_cpu, cpu_times())

            chat_ours, chat_theirs = [], []
            for _ in range(args.rounds):
                chat_ours.append(openai_chat(client, MODEL))
                time.sleep(0.5)
                chat_theirs.append(openai_chat(other, str(model_path)))
                time.sleep(0.5)
            table.add(
                "/v1/chat/completions stream tok/s vs llama_cpp.server",
                median(s.decode_rate for s in chat_ours),
                median(s.decode_rate for s in chat_theirs),
                "tok/s",
            )
            table.add(
                "/v1/chat/completions E2E tok/s (tokens / request time)",
                median(s.tokens / s.total for s in chat_ours),
                median(s.tokens / s.total for s in chat_theirs),
                "tok/s",
            )
        run_steal = steal_percent(run_cpu, cpu_times())
        lean.close()
        llm.close()
        theirs.terminate()
        table.print()
        for label, ours_side, theirs_side in (
            ("decode", decode_ours, decode_theirs),
            ("/v1 stream", chat_ours, chat_theirs),
        ):
            # Each round's two runs are back to back, so their ratio cancels the
            # machine's drift between rounds (this VM's speed swings by +-10 %).
            ratios = [
                o.decode_rate / t.decode_rate for o, t in zip(ours_side, theirs_side, strict=True)
            ]
            print(
                two_series(
                    f"  per-round {label} tok/s",
                    ("ours", [s.decode_rate for s in ours_side]),
                    ("theirs", [s.decode_rate for s in theirs_side]),
                )
                + f"; median of the paired ratios {median(ratios):.3f}"
            )
        ttft_overhead(ttft_ours, eval_ours, ttft_theirs, eval_theirs)
        print(
            "  this machine's bare HTTP round trip after the same idle gap "
            f"(GET /api/version): {median(round_trips):.2f} ms; "
            f"{describe_steal(ttft_steal)} of the CPU time meanwhile"
        )
        print(two_series("  per-sample TTFT ms", ("ours", ttft_ours), ("in-process", ttft_theirs)))
        print(
            "  through httpx instead (what a Python app using it sees), difference "
            f"of the medians: {median(ttft_httpx) - median(ttft_theirs):+.2f} ms"
        )
        print(f"host: {describe_steal(run_steal)} of the CPU time over the comparisons above")
        if run_steal is not None and run_steal > BUSY_HOST_STEAL:
            # A stolen vCPU delays whichever thread it was running. A request to the
            # server wakes a thread five times (event loop, slot, OpenMP worker, event
            # loop, client), an in-process call once (the OpenMP worker).
            print(
                f"  the host took more than {BUSY_HOST_STEAL:.0f}% of the CPU time: these "
                "figures describe the host as much as the server; run again when it is quiet"
            )
    finally:
        for process in (ours, theirs):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds per comparison")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads on both sides")
    parser.add_argument("--ttft-samples", type=int, default=30, help="warm TTFT samples per side")
    # Aggregate rates swing by +-15 % from run to run on a shared VM: with 2 rounds one
    # level read 0.92x where 5 rounds of the same comparison read 1.06x.
    parser.add_argument(
        "--batch-rounds", type=int, default=5, help="rounds of the continuous-batching comparison"
    )
    parser.add_argument(
        "--parts",
        default="single,batching",
        help="comma list: single (comparisons 1-3), batching (4); default %(default)s",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    import llama_cpp

    use_extra_buffers(False)
    print(
        f"llama-cpp-python {llama_cpp.__version__}, {os.cpu_count()} CPUs, "
        f"GPU offload {'available' if llama_cpp.llama_supports_gpu_offload() else 'not built'}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        model_path, system = prepared_store(Path(tmp) / "models")
        prompt = (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
        if "single" in parts:
            single_stream(model_path, Path(tmp) / "models", prompt, args)
        if "batching" in parts:
            # Continuous batching against llama.cpp's own server, TTFT under load, memory.
            batching.run_all(
                model_path,
                Path(tmp) / "models",
                QUESTION,
                prompt,
                threads=args.threads,
                rounds=args.batch_rounds,
            )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
