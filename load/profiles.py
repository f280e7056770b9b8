"""Load profiles: which requests, how they arrive, and how many users over time.

A profile's user curve is a declarative list of :class:`Stage` (Locust's
``LoadTestShape`` walks it); closed-loop profiles vary the users, open-loop ones
keep a fixed pool of users that send on a schedule (:mod:`load.arrivals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ollama_harness.core.durations import DurationError, parse_go_duration

#: Spawn rate for "all at once": every user of a stage starts within the first tick.
INSTANT = 100.0


class ProfileError(ValueError):
    """An unknown profile or stage list, with what would have been accepted."""


@dataclass(frozen=True, slots=True)
class Stage:
    """Run ``users`` users (reached at ``spawn_rate`` per second) until ``until_s``."""

    until_s: float
    users: int
    spawn_rate: float = INSTANT


StageBuilder = Callable[[float, int], list[Stage]]


def _steady(duration: float, users: int) -> list[Stage]:
    return [Stage(duration, users)]


def _burst(duration: float, users: int) -> list[Stage]:
    """A quarter of the users, with two bursts to all of them (15% of the run each)."""
    base = max(1, users // 4)
    marks = ((0.25, base), (0.40, users), (0.70, base), (0.85, users), (1.0, base))
    return [Stage(duration * until, n) for until, n in marks]


def _ramp(duration: float, users: int) -> list[Stage]:
    """Five equal steps from a fifth of the users up to all of them."""
    steps = 5
    return [
        Stage(duration * (i + 1) / steps, max(1, round(users * (i + 1) / steps)))
        for i in range(steps)
    ]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    mix: dict[str, float]
    arrival: str  # closed | constant | poisson
    stages: StageBuilder
    default_users: int

    @property
    def open_loop(self) -> bool:
        return self.arrival != "closed"


_CHAT_AND_GENERATE = {"chat": 0.5, "generate": 0.5}
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "steady",
            "closed loop: N users, each sends its next chat/generate request when the last ends",
            _CHAT_AND_GENERATE,
            "closed",
            _steady,
            8,
        ),
        Profile(
            "burst",
            "closed loop: N/4 users with two bursts to N users",
            _CHAT_AND_GENERATE,
            "closed",
            _burst,
            16,
        ),
        Profile(
            "ramp",
            "closed loop: users rise in five steps to N (or follow --stages)",
            _CHAT_AND_GENERATE,
            "closed",
            _ramp,
            16,
        ),
        Profile(
            "embed",
            "closed loop, embed-heavy: 80% embeddings (batches of 1-8 inputs), 20% chat",
            {"embed": 0.8, "chat": 0.2},
            "closed",
            _steady,
            8,
        ),
        Profile(
            "mixed",
            "closed loop, realistic mix from the shipped dataset: 50% chat, 30% generate, "
            "20% embed",
            {"chat": 0.5, "generate": 0.3, "embed": 0.2},
            "closed",
            _steady,
            8,
        ),
        Profile(
            "constant",
            "open loop: requests at a constant rate R, sent on schedule by a pool of N users",
            _CHAT_AND_GENERATE,
            "constant",
            _steady,
            64,
        ),
        Profile(
            "poisson",
            "open loop: Poisson arrivals at mean rate R, sent on schedule by a pool of N users",
            _CHAT_AND_GENERATE,
            "poisson",
            _steady,
            64,
        ),
    )
}
#: Not a Locust run of its own: a series of steady (users) or poisson (rate) runs.
SWEEP = "sweep"
PROFILE_NAMES: tuple[str, ...] = (*PROFILES, SWEEP)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(
            f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}"
        ) from None


def parse_stages(text: str) -> list[Stage]:
    """``"10s:2,20s:8,30s:8:0.5"``: stage lengths, users, optional spawn rate per second.

    Lengths add up: that list runs 2 users for 10 s, then 8 users for 20 s
    (started at once), then 8 users for 30 s more; total 60 s.
    """
    stages: list[Stage] = []
    elapsed = 0.0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        pieces = part.split(":")
        if len(pieces) not in (2, 3):
            raise ProfileError(f"stage {part!r}: expected LENGTH:USERS[:SPAWN_RATE]")
        try:
            length = parse_go_duration(pieces[0])
            users = int(pieces[1])
            rate = float(pieces[2]) if len(pieces) == 3 else INSTANT
        except (DurationError, ValueError) as exc:
            raise ProfileError(f"stage {part!r}: {exc}") from None
        if length <= 0 or users < 0 or rate <= 0:
            raise ProfileError(f"stage {part!r}: length and spawn rate > 0, users >= 0")
        elapsed += length
        stages.append(Stage(elapsed, users, rate))
    if not stages:
        raise ProfileError("no stages given")
    return stages


def stage_at(stages: list[Stage], t: float) -> Stage | None:
    """The stage running at ``t`` seconds into the run; ``None`` once all have ended."""
    for stage in stages:
        if t < stage.until_s:
            return stage
    return None
