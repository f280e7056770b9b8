"""The per-process state of a Locust run and the event hooks that move samples.

- Every process (local, master, worker) builds its :class:`RunState` on
  ``test_start`` from the run's options (workers receive the master's options
  with the spawn message).
- A local run keeps its samples in its own store. A worker buffers them and sends
  them to the master twice a second, with its in-flight count, as a custom
  ``ollama_samples`` message; it flushes once more on ``test_stop``, which Locust
  fires before the worker reports itself stopped, so nothing is lost at the end.
- The master (or local process) prints the progress line and, on ``test_stop``,
  writes summary.json, samples.csv and report.html.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from ollama_harness.load.arrivals import ArrivalSchedule
from ollama_harness.load.metrics import summarize
from ollama_harness.load.options import RunOptions, add_locust_arguments
from ollama_harness.load.percentiles import percentile
from ollama_harness.load.profiles import get_profile
from ollama_harness.load.reportfiles import write_run
from ollama_harness.load.samples import Sample, SampleStore, epoch_of
from ollama_harness.load.workload import Workload

MESSAGE = "ollama_samples"
FLUSH_INTERVAL_S = 0.5


class RunState:
    """What the users of this process share during one run."""

    def __init__(self) -> None:
        self.options = RunOptions()
        self.workloads: dict[str, Workload] = {}
        self.schedule: ArrivalSchedule | None = None
        self.store = SampleStore()
        self.pending: list[Sample] = []
        self.is_worker = False
        self.worker_index = 0
        self.in_flight = 0
        self.cut_off = 0
        self.user_seq = itertools.count()
        self.request_seq = itertools.count()
        self.id_prefix = f"oh{os.getpid():x}"
        self.last_report: dict[int, float] = {}
        self.cut_off_by_worker: dict[int, int] = {}
        self._errors = 0
        self._error_scan = 0
        self.cpu_peak = 0.0  # this process's busiest second, percent of one core
        self.cpu_by_worker: dict[int, float] = {}
        self.started = time.perf_counter()
        self.reports_written: Path | None = None

    def configure(self, options: RunOptions, worker_index: int, workers: int) -> None:
        self.options = options
        self.worker_index = worker_index
        mix = options.mix_weights
        self.workloads = {
            api: Workload(
                mix,
                api=api,
                model=options.model,
                embed_model=options.embed_model or None,
                stream=not options.no_stream,
                max_tokens=options.max_tokens or None,
            )
            for api in (options.api,)  # one API per run: the shape spawns its users only
        }
        self.schedule = None
        if options.workload != "sweep":
            profile = get_profile(options.workload)
            if profile.open_loop:
                # each process sends its share of the rate, on its own seeded schedule
                self.schedule = ArrivalSchedule(
                    options.rate / max(1, workers),
                    poisson=profile.arrival == "poisson",
                    seed=options.seed * 7919 + worker_index,
                    length_s=options.duration_s,
                )
        self.store.clear()
        self.pending.clear()
        self.in_flight = 0
        self.cut_off = 0
        self.last_report.clear()
        self.cut_off_by_worker.clear()
        self.cpu_peak = 0.0
        self.cpu_by_worker.clear()
        self._errors = 0
        self._error_scan = 0
        self.started = time.perf_counter()
        self.reports_written = None

    def record(self, sample: Sample) -> None:
        if self.is_worker:
            self.pending.append(sample)
        else:
            self.store.add(sample)

    def next_request_id(self) -> str:
        return f"{self.id_prefix}-{next(self.request_seq)}"

    def errors_seen(self, upto: int) -> int:
        """Failed samples among the first ``upto``, counted incrementally."""
        for sample in self.store.samples[self._error_scan : upto]:
            self._errors += not sample.ok
        self._error_scan = max(self._error_scan, upto)
        return self._errors

    def clock(self) -> float:
        return time.perf_counter()

    def in_flight_total(self) -> int:
        if self.is_worker:
            return self.in_flight
        return self.in_flight + sum(self.store.in_flight.values())

    def drained_since(self, since: float) -> bool:
        """No request in flight anywhere, as last reported after ``since``."""
        if self.in_flight:
            return False
        for worker, count in self.store.in_flight.items():
            if count or self.last_report.get(worker, 0.0) < since:
                return False
        return True


STATE = RunState()
#: The locustfile may be imported twice (as a file and as load.locustfile): hook once.
_HOOKS = {"installed": False}


def _options(environment: Any) -> RunOptions:
    options = RunOptions.from_namespace(environment.parsed_options)
    options.validate()
    return options


def _flush(environment: Any) -> None:
    rows = [s.to_wire() for s in STATE.pending]
    STATE.pending.clear()
    environment.runner.send_message(
        MESSAGE,
        {
            "worker": STATE.worker_index,
            "rows": rows,
            "in_flight": STATE.in_flight,
            "cut_off": STATE.cut_off,
            "cpu": STATE.cpu_peak,
        },
    )


def _flush_loop(environment: Any) -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        _flush(environment)


def _on_samples(environment: Any, msg: Any, **_kw: Any) -> None:
    data = msg.data
    worker = int(data["worker"])
    STATE.store.extend(Sample.from_wire(row) for row in data["rows"])
    STATE.store.in_flight[worker] = int(data["in_flight"])
    STATE.last_report[worker] = time.perf_counter()
    STATE.cut_off_by_worker[worker] = int(data["cut_off"])
    STATE.cpu_by_worker[worker] = float(data.get("cpu", 0.0))


def _cpu_loop() -> None:
    """The generator's own CPU, once a second: a saturated generator inflates latencies."""
    # psutil comes with Locust but without type stubs: reach it untyped
    process = importlib.import_module("psutil").Process()
    process.cpu_percent(None)
    while True:
        gevent.sleep(1.0)
        STATE.cpu_peak = max(STATE.cpu_peak, process.cpu_percent(None))


def _progress_wanted(options: RunOptions, environment: Any) -> bool:
    if options.progress == "off":
        return False
    if options.progress == "on":
        return True
    return bool(getattr(environment.parsed_options, "headless", False))


def progress_line(state: RunState, users: int, duration_s: float) -> str:
    samples = state.store.samples
    elapsed = time.perf_counter() - state.started
    recent = samples[-200:]
    ok = [s for s in recent if s.ok]
    ttft = sorted(s.ttft_ms for s in ok if s.ttft_ms is not None)
    itl = sorted(v for s in ok if (v := s.itl_ms) is not None)
    # recent samples only: this runs every second on runs of any length
    errors = state.errors_seen(len(samples))
    now = epoch_of(time.perf_counter())
    window = [s for s in samples[-5000:] if s.end_at >= now - 5.0]
    rps = sum(1 for s in window if s.ok) / 5.0
    parts = [
        f"[{elapsed:5.0f}s/{duration_s:.0f}s]",
        f"users {users:3d}",
        f"done {len(samples):6d}",
        f"errors {errors}",
        f"{rps:6.1f} req/s",
        f"in flight {state.in_flight_total()}",
    ]
    if ttft:
        parts.append(f"TTFT p50 {percentile(ttft, 50):7.1f} ms")
    if itl:
        parts.append(f"ITL p50 {percentile(itl, 50):6.2f} ms")
    return "  ".join(parts)


def _progress_loop(environment: Any) -> None:
    tty = sys.stderr.isatty()
    every = 1.0 if tty else 5.0
    while True:
        gevent.sleep(every)
        line = progress_line(STATE, environment.runner.user_count, STATE.options.duration_s)
        sys.stderr.write(("\r" + line + "\x1b[K") if tty else line + "\n")
        sys.stderr.flush()


class _Greenlets:
    flusher: Any = None
    progress: Any = None
    cpu: Any = None


def _kill(name: str) -> None:
    greenlet = getattr(_Greenlets, name)
    if greenlet is not None:
        greenlet.kill(block=False)
        setattr(_Greenlets, name, None)


def _on_test_start(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    STATE.is_worker = isinstance(runner, WorkerRunner)
    index = max(0, getattr(runner, "worker_index", 0)) if STATE.is_worker else 0
    workers = int(getattr(environment.parsed_options, "expect_workers", 1) or 1)
    STATE.configure(_options(environment), index, workers if STATE.is_worker else 1)
    _kill("cpu")
    if not isinstance(runner, MasterRunner):  # the processes that send requests
        _Greenlets.cpu = gevent.spawn(_cpu_loop)
    if STATE.is_worker:
        _kill("flusher")
        _Greenlets.flusher = gevent.spawn(_flush_loop, environment)
    elif _progress_wanted(STATE.options, environment):
        _kill("progress")
        _Greenlets.progress = gevent.spawn(_progress_loop, environment)


def report_dir(options: RunOptions) -> Path:
    if options.report_dir:
        return Path(options.report_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path("reports") / f"load-{stamp}"


def finish(environment: Any) -> dict[str, Any]:
    """Summarise the stored samples and write the three report files."""
    options = STATE.options
    run = options.describe()
    run["url"] = environment.host
    run["workers"] = max(1, len(STATE.store.in_flight)) if STATE.store.in_flight else 1
    cut_off = STATE.cut_off + sum(STATE.cut_off_by_worker.values())
    peaks = [*STATE.cpu_by_worker.values()] or [STATE.cpu_peak]
    run["generator_cpu_peak_percent"] = round(max(peaks), 1)
    summary = summarize(STATE.store.samples, options.objectives, run, cut_off=cut_off)
    out = report_dir(options)
    write_run(out, STATE.store.samples, summary)
    STATE.reports_written = out
    return summary


def _on_test_stop(environment: Any, **_kw: Any) -> None:
    _kill("cpu")
    if STATE.is_worker:
        _kill("flusher")
        _flush(environment)  # before Locust tells the master this worker stopped
        return
    _kill("progress")
    if _progress_wanted(STATE.options, environment):
        sys.stderr.write("\n")
    summary = finish(environment)
    sys.stderr.write(text_summary(summary, STATE.reports_written))


def text_summary(summary: dict[str, Any], out: Path | None) -> str:
    req = summary["requests"]
    thr = summary["throughput"]
    lines = [
        f"requests {req['total']}  ok {req['ok']}  errors {req['errors']}"
        f"  cut off {req['cut_off']}  window {summary['window_s']:.1f}s",
        f"throughput {thr['requests_per_s']:.2f} req/s  {thr['output_tokens_per_s']:.1f} "
        f"output tok/s",
    ]
    for name in ("ttft", "itl", "e2e"):
        stats = summary["latency_ms"].get(name)
        if stats:
            lines.append(
                f"{name.upper():5s} p50 {stats['p50']:.1f} ms  p95 {stats['p95']:.1f} ms"
                f"  p99 {stats['p99']:.1f} ms"
            )
    if out is not None:
        lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines) + "\n"


def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, _on_samples)


def install() -> None:
    """Register the hooks once per process, however often the locustfile is imported."""
    if _HOOKS["installed"]:
        return
    _HOOKS["installed"] = True
    hooks: Any = events  # Locust's EventHook.add_listener is untyped
    hooks.init_command_line_parser.add_listener(add_locust_arguments)
    hooks.init.add_listener(_on_init)
    hooks.test_start.add_listener(_on_test_start)
    hooks.test_stop.add_listener(_on_test_stop)
