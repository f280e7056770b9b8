"""Service-level objectives: ``ttft_p95=500ms,itl_p95=50ms``.

Each objective names a metric, a percentile and a limit (a Go duration). It is
checked twice: per request (did this request's TTFT stay within 500 ms?), which
gives goodput, and on the run's percentile (was the p95 of TTFT within 500 ms?).
A metric a request does not have (TTFT of an embedding) does not fail it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_harness.core.durations import DurationError, parse_go_duration

#: Metric name -> the Sample attribute (milliseconds) it reads.
METRICS: dict[str, str] = {
    "ttft": "ttft_ms",
    "itl": "itl_ms",
    "tpot": "tpot_ms",
    "e2e": "e2e_ms",
    "queue": "queue_ms",
}
_KEY = re.compile(r"^(?P<metric>[a-z0-9]+)_(?P<stat>p50|p90|p95|p99|max|mean)$")


class SloError(ValueError):
    """An objective that cannot be read; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class Objective:
    metric: str  # key of METRICS
    stat: str  # p50 | p90 | p95 | p99 | max | mean
    limit_ms: float

    @property
    def key(self) -> str:
        return f"{self.metric}_{self.stat}"

    @property
    def attribute(self) -> str:
        return METRICS[self.metric]

    def __str__(self) -> str:
        return f"{self.key}<={self.limit_ms:g}ms"


def parse_slo(text: str | None) -> tuple[Objective, ...]:
    """``"ttft_p95=500ms, itl_p95=50ms"`` -> objectives; empty text -> none."""
    if not text or not text.strip():
        return ()
    objectives: list[Objective] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        match = _KEY.match(key.strip())
        if not sep or not match:
            raise SloError(
                f"SLO {part!r}: expected METRIC_STAT=DURATION, e.g. ttft_p95=500ms "
                f"(metrics: {', '.join(METRICS)}; stats: p50 p90 p95 p99 max mean)"
            )
        if match["metric"] not in METRICS:
            raise SloError(f"SLO {part!r}: unknown metric {match['metric']!r}")
        try:
            seconds = parse_go_duration(value.strip())
        except DurationError as exc:
            raise SloError(f"SLO {part!r}: {exc}") from None
        if seconds <= 0:
            raise SloError(f"SLO {part!r}: the limit must be positive")
        objectives.append(Objective(match["metric"], match["stat"], seconds * 1000.0))
    return tuple(objectives)
