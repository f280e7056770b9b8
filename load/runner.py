"""Run a profile programmatically: a Locust process on load/locustfile.py, then its summary.

Locust runs in its own process because it monkey-patches the standard library
with gevent on import; the caller (the CLI, ``demo``, a test) may have servers
and threads of its own that must not be patched. The Locust process writes
summary.json, samples.csv and report.html into ``out_dir``; this module waits for
it and reads the summary back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ollama_harness.load.options import RunOptions
from ollama_harness.load.reportfiles import SUMMARY_FILE, load_summary, write_sweep
from ollama_harness.load.sweep import analyse, sweep_point

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
#: Seconds beyond duration + drain a headless run may take before it is killed.
STARTUP_MARGIN_S = 120.0


class LoadRunError(RuntimeError):
    """The Locust process failed or wrote no summary; the message ends with its log."""


@dataclass(frozen=True)
class Distribution:
    """How Locust's processes are laid out (its own flags, passed through)."""

    processes: int = 0  # fork this many local workers (Locust --processes)
    master: bool = False  # wait for --expect-workers remote workers
    expect_workers: int = 1
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = 5557
    worker: bool = False  # be a worker of --master-host
    master_host: str = "127.0.0.1"
    master_port: int = 5557

    def args(self) -> list[str]:
        if self.worker:
            return [
                "--worker",
                "--master-host",
                self.master_host,
                "--master-port",
                str(self.master_port),
            ]
        out: list[str] = []
        if self.processes:
            out += ["--processes", str(self.processes)]
        if self.master:
            out += [
                "--master",
                "--expect-workers",
                str(self.expect_workers),
                "--master-bind-host",
                self.master_bind_host,
                "--master-bind-port",
                str(self.master_bind_port),
                "--expect-workers-max-wait",
                "120",
            ]
        return out


def locust_command(
    options: RunOptions,
    url: str | None,
    out_dir: Path,
    *,
    distribution: Distribution = Distribution(),
    web: bool = False,
    web_port: int = 8089,
) -> list[str]:
    """The full command line of the Locust process for one run."""
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    command += ["--logfile", str(out_dir / "locust.log")]
    if distribution.worker:
        return command + distribution.args()
    if url:
        command += ["--host", url]
    if options.users:
        command += ["--users", str(options.users)]
    if web:
        command += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
    else:
        command += ["--headless", "--only-summary"]
    options = replace(options, report_dir=str(out_dir))
    return command + distribution.args() + options.locust_args()


def _stop(process: subprocess.Popen[bytes], grace_s: float) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _forward_sigterm(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """A SIGTERM to this process (a CI timeout, say) also stops the Locust process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, frame: object) -> None:
        process.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_locust(
    options: RunOptions,
    url: str | None,
    out_dir: Path,
    *,
    distribution: Distribution = Distribution(),
    web: bool = False,
    web_port: int = 8089,
    show_progress: bool = False,
) -> dict[str, Any] | None:
    """Run Locust until the profile ends; the summary (``None`` for a worker process)."""
    options.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_FILE).unlink(missing_ok=True)
    if not distribution.worker:
        options = replace(options, progress="on" if show_progress else "off")
    command = locust_command(
        options, url, out_dir, distribution=distribution, web=web, web_port=web_port
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    limit = None
    if not web and not distribution.worker:
        limit = options.duration_s + options.drain_timeout + STARTUP_MARGIN_S
        if distribution.master:
            limit += 120.0  # waiting for the workers to connect
    with (out_dir / "locust-stdout.log").open("w", encoding="utf-8") as stdout:
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=None if show_progress else subprocess.STDOUT,
            env=env,
        )
        with _forward_sigterm(process):
            try:
                process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise LoadRunError(
                    f"Locust did not finish within {limit:.0f}s\n{_tail(out_dir / 'locust.log')}"
                ) from None
            except KeyboardInterrupt:
                # Ctrl-C ends a --web session (and may end a run early): Locust quits on
                # SIGTERM, writing the reports of what it measured
                _stop(process, options.drain_timeout + 30.0)
    if distribution.worker:
        return None
    if not (out_dir / SUMMARY_FILE).is_file():
        raise LoadRunError(
            f"Locust exited with status {process.returncode} and wrote no summary\n"
            f"{_tail(out_dir / 'locust.log')}\n{_tail(out_dir / 'locust-stdout.log')}"
        )
    return load_summary(out_dir)


def run_profile(
    url: str,
    profile: str = "mixed",
    out_dir: Path | str = Path("reports/load"),
    *,
    duration: str = "30s",
    users: int | None = None,
    rate: float | None = None,
    model: str = "smollm2:135m",
    api: str = "native",
    slo: str = "",
    processes: int = 0,
    show_progress: bool = False,
    **more: Any,
) -> dict[str, Any]:
    """Run one profile against ``url``; write summary.json, samples.csv and report.html
    into ``out_dir`` and return the summary. ``more`` takes any other field of
    :class:`~load.options.RunOptions` (``max_tokens``, ``mix``, ``seed``, ``stages``...)."""
    options = RunOptions(
        workload=profile,
        model=model,
        api=api,
        duration=duration,
        rate=rate or 0.0,
        slo=slo,
        users=users or 0,
        **more,
    )
    if profile == "sweep":
        raise ValueError("use run_sweep() for a sweep")
    summary = run_locust(
        options,
        url,
        Path(out_dir),
        distribution=Distribution(processes=processes),
        show_progress=show_progress,
    )
    assert summary is not None
    return summary


def run_sweep(
    url: str,
    levels: Sequence[float],
    out_dir: Path | str,
    *,
    mode: str = "users",
    duration: str = "30s",
    model: str = "smollm2:135m",
    api: str = "native",
    slo: str = "",
    processes: int = 0,
    show_progress: bool = False,
    on_step: Any = None,
    **more: Any,
) -> dict[str, Any]:
    """One run per level (closed-loop users, or Poisson rate with ``mode="rate"``),
    each in ``out_dir/step-NN-...``; writes sweep.json and report.html, returns the sweep."""
    if mode not in ("users", "rate"):
        raise ValueError("mode must be 'users' or 'rate'")
    out = Path(out_dir)
    points = []
    pool = int(more.pop("users", 0) or 0)
    for i, level in enumerate(levels, 1):
        step_dir = out / f"step-{i:02d}-{mode}-{level:g}"
        if mode == "users":
            options = RunOptions(
                workload="steady",
                users=int(level),
                duration=duration,
                model=model,
                api=api,
                slo=slo,
                **more,
            )
        else:
            options = RunOptions(
                workload="poisson",
                rate=level,
                users=pool,
                duration=duration,
                model=model,
                api=api,
                slo=slo,
                **more,
            )
        summary = run_locust(
            options,
            url,
            step_dir,
            distribution=Distribution(processes=processes),
            show_progress=show_progress,
        )
        assert summary is not None
        points.append(sweep_point(level, summary, str(step_dir)))
        if on_step is not None:
            on_step(level, summary)
    run = {
        "url": url,
        "model": model,
        "api": api,
        "mode": mode,
        "levels": list(levels),
        "duration_s": RunOptions(duration=duration).duration_s,
        "slo": slo or None,
        "profile": "sweep",
    }
    sweep = analyse(points, mode, run)
    write_sweep(out, sweep)
    return sweep
