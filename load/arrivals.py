"""Open-loop arrivals: a schedule of send times that does not wait for responses.

Each request's send time is fixed by the schedule before any user is free to send
it. When every user is busy the request goes out late, and the lateness is
measured (queue time) and counted in its TTFT and E2E: queueing shows up instead of
being hidden, which is what a closed loop does (coordinated omission).
"""

from __future__ import annotations

import random


class ArrivalSchedule:
    """Send times at ``rate`` per second, evenly spaced or Poisson, for ``length_s``."""

    def __init__(self, rate: float, poisson: bool, seed: int, length_s: float) -> None:
        if rate <= 0:
            raise ValueError("arrival rate must be positive")
        self.rate = rate
        self.poisson = poisson
        self.length_s = length_s
        self._rng = random.Random(seed)
        self.start: float | None = None
        self._next = 0.0
        self.issued = 0

    def next_slot(self, now: float) -> float | None:
        """The next scheduled send time (``perf_counter`` seconds), or ``None`` past the end.

        The schedule starts at the first call; slots are handed out in order, one
        per call, whatever the clock says, so a late caller gets a slot in the past.
        """
        if self.start is None:
            self.start = now
            self._next = now
        slot = self._next
        if slot - self.start >= self.length_s:
            return None
        gap = self._rng.expovariate(self.rate) if self.poisson else 1.0 / self.rate
        self._next = slot + gap
        self.issued += 1
        return slot
