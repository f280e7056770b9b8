"""The machine the benchmarks run on: free ports, servers coming up, CPU steal.

On a virtual machine the hypervisor can take the CPUs away for tens of
milliseconds ("steal" in ``/proc/stat``). Such a pause stalls every request in
flight at once, so it shows up in tail latencies of whatever is measured, the
baseline included. The benchmarks print it beside their percentiles so that a
reader can tell a slow server from a busy host.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

_STAT = Path("/proc/stat")


def cpu_times() -> list[int] | None:
    """The aggregate ``cpu`` line of ``/proc/stat`` (None where there is none)."""
    try:
        first = _STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    return [int(field) for field in first[1:]]


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of all CPU time between two snapshots that the host took away."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    deltas = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(deltas[:8])  # user..steal; guest time is already inside user
    return 100.0 * deltas[7] / total if total > 0 else None


def describe_steal(percent: float | None) -> str:
    return "steal n/a" if percent is None else f"steal {percent:4.1f}%"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    """Return once ``process`` accepts connections on ``port``; raise if it dies first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"server exited with {process.returncode} {said}".strip())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds:.0f}s")


def two_series(
    title: str, first: tuple[str, list[float]], second: tuple[str, list[float]], digits: int = 1
) -> str:
    """One line with every sample of both sides, so a reader can see the host's swings."""
    (a_name, a), (b_name, b) = first, second
    return (
        f"{title}, {a_name}: "
        + ", ".join(f"{v:.{digits}f}" for v in a)
        + f"; {b_name}: "
        + ", ".join(f"{v:.{digits}f}" for v in b)
    )
