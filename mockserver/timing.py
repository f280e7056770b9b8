"""How slowly the mock answers: time to first token, inter-token delay, jitter.

Defaults come from the settings, a catalogue entry's ``timing`` overrides them
per model, and the ``X-Mock-Timing`` request header overrides both per request::

    X-Mock-Timing: ttft=100ms, itl=10ms, jitter=2ms, seed=7

Values are Go durations (``250ms``, ``1.5s``) or bare numbers of milliseconds.
Jitter is uniform in ``[-jitter, +jitter]``, drawn from the seed mixed with the
request, so the same request is delayed the same way every time.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from ollama_harness.core.durations import DurationError, parse_go_duration
from ollama_harness.core.errors import ApiError

from .catalogue import Timing

HEADER = "x-mock-timing"


@functools.lru_cache(maxsize=256)
def _base_plan(
    defaults: tuple[float, float, float, int],
    ttft_ms: float | None,
    itl_ms: float | None,
    jitter_ms: float | None,
) -> TimingPlan:
    """Settings < model entry, without a header: the same for every request of a model."""
    return TimingPlan(
        (ttft_ms if ttft_ms is not None else defaults[0]) / 1000.0,
        (itl_ms if itl_ms is not None else defaults[1]) / 1000.0,
        (jitter_ms if jitter_ms is not None else defaults[2]) / 1000.0,
        defaults[3],
    )


@dataclass(frozen=True, slots=True)
class TimingPlan:
    ttft: float  # seconds
    itl: float
    jitter: float
    seed: int

    @property
    def is_zero(self) -> bool:
        return self.ttft == 0 and self.itl == 0 and self.jitter == 0

    def delays(self, count: int, request_seed: int) -> list[float]:
        """Delay before each of ``count`` tokens: the first is TTFT, then ITL."""
        if self.is_zero:
            return [0.0] * count
        rng = random.Random(self.seed * 1_000_003 + request_seed)
        out = []
        for index in range(count):
            base = self.ttft if index == 0 else self.itl
            jitter = rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
            out.append(max(0.0, base + jitter))
        return out

    def header_value(self) -> bytes:
        """The ``X-Mock-Timing`` response header: the plan this request used."""
        return _header_value(self)


@functools.lru_cache(maxsize=256)
def _header_value(plan: TimingPlan) -> bytes:
    return (
        f"ttft={plan.ttft * 1000:g}ms, itl={plan.itl * 1000:g}ms, "
        f"jitter={plan.jitter * 1000:g}ms, seed={plan.seed}"
    ).encode()


def _seconds(text: str) -> float:
    text = text.strip()
    try:
        return float(text) / 1000.0
    except ValueError:
        pass
    try:
        value = parse_go_duration(text)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    if value < 0:
        raise ValueError(f"negative duration {text!r}")
    return value


def make_plan(
    defaults: tuple[float, float, float, int], model: Timing, header: str | None
) -> TimingPlan:
    """Settings (ms) < model entry (ms) < header."""
    if not header:
        return _base_plan(defaults, model.ttft_ms, model.itl_ms, model.jitter_ms)
    ttft_ms, itl_ms, jitter_ms, seed = defaults
    ttft = (model.ttft_ms if model.ttft_ms is not None else ttft_ms) / 1000.0
    itl = (model.itl_ms if model.itl_ms is not None else itl_ms) / 1000.0
    jitter = (model.jitter_ms if model.jitter_ms is not None else jitter_ms) / 1000.0
    if header:
        try:
            for part in header.split(","):
                if not part.strip():
                    continue
                key, sep, value = part.partition("=")
                key = key.strip().lower()
                if not sep:
                    raise ValueError(f"expected key=value, got {part.strip()!r}")
                if key == "ttft":
                    ttft = _seconds(value)
                elif key == "itl":
                    itl = _seconds(value)
                elif key == "jitter":
                    jitter = _seconds(value)
                elif key == "seed":
                    seed = int(value)
                else:
                    raise ValueError(f"unknown key {key!r}")
        except ValueError as exc:
            raise ApiError(400, f"invalid X-Mock-Timing header: {exc}") from None
    return TimingPlan(ttft, itl, jitter, seed)
