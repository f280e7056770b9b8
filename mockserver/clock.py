"""Wall time and interval time for the mock, real or frozen.

A fixed clock is what makes the mock byte-for-byte reproducible: ``created_at``,
``modified_at`` and ``expires_at`` come from it, and the durations in final chunks
are the *planned* ones rather than measured ones. Tests move it with
:meth:`FixedClock.advance` to expire ``keep_alive`` without sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

FIXED_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """Go's ``time.Time`` JSON form: microseconds, ``Z`` for UTC."""
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


class Clock:
    """The real clock; subclasses freeze it."""

    fixed = False
    _second = -1
    _prefix = ""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_text(self) -> str:
        """``rfc3339(self.now())``, fast: every streamed line carries one."""
        ns = time.time_ns()
        second, fraction = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{fraction // 1000:06d}Z"

    def monotonic(self) -> float:
        """Seconds for intervals (keep_alive expiry, measured durations)."""
        return time.monotonic()


class FixedClock(Clock):
    """A clock that only moves when told to."""

    fixed = True

    def __init__(self, start: datetime = FIXED_EPOCH) -> None:
        self._start = start
        self._offset = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset)

    def now_text(self) -> str:
        return rfc3339(self.now())

    def monotonic(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0


def make_clock(kind: str) -> Clock:
    return FixedClock() if kind == "fixed" else Clock()
