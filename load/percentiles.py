"""Percentiles and histograms from raw samples (no buckets, no rounding)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

#: The percentiles every latency figure reports, besides min, mean and max.
PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    weight = rank - low
    return float(sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight)


def describe(values: Iterable[float | None]) -> dict[str, float | int] | None:
    """count, min, mean, p50, p90, p95, p99 and max of the values that exist."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    summary: dict[str, float | int] = {
        "count": len(data),
        "min": data[0],
        "mean": math.fsum(data) / len(data),
    }
    for pct in PERCENTILES:
        summary[f"p{pct}"] = percentile(data, pct)
    summary["max"] = data[-1]
    return summary


def histogram(values: Iterable[float | None], bins: int = 30) -> dict[str, list[float]] | None:
    """Equal-width bins from the minimum to the 99.5th percentile, the tail in the last.

    Clipping the range at p99.5 keeps one outlier from squeezing the whole
    distribution into a single bar; the outliers still count, in the last bin.
    """
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    low = data[0]
    high = percentile(data, 99.5)
    if high <= low:
        high = low + max(abs(low) * 0.01, 1e-3)
    width = (high - low) / bins
    counts = [0.0] * bins
    for value in data:
        index = min(int((value - low) / width), bins - 1)
        counts[index] += 1
    edges = [low + width * i for i in range(bins + 1)]
    return {"edges": edges, "counts": counts}
