"""What the machine itself did during a measurement: CPU time stolen by the host.

On a virtual machine the hypervisor can take the CPUs away for tens of
milliseconds ("steal" in ``/proc/stat``). Such a pause stalls every request in
flight at once, so it shows up in tail latencies of whatever is measured, the
baseline included. The benchmarks print it beside their percentiles so that a
reader can tell a slow server from a busy host.
"""

from __future__ import annotations

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
