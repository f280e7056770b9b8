"""Two runs side by side, and a regression gate for CI.

The gate fails when throughput (requests/s and output tokens/s) drops by more than
``max_throughput_drop`` or a chosen latency figure rises by more than
``max_latency_rise``, both as fractions of the baseline (run A).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ollama_harness.load.metrics import figure

THROUGHPUT_FIGURES: tuple[str, ...] = (
    "throughput.requests_per_s",
    "throughput.output_tokens_per_s",
)
DEFAULT_LATENCY: tuple[str, ...] = ("ttft.p95", "itl.p95", "e2e.p95")
#: Shown in the table without gating: context for the reader.
CONTEXT_FIGURES: tuple[str, ...] = (
    "latency_ms.ttft.p50",
    "latency_ms.itl.p50",
    "latency_ms.e2e.p50",
    "errors.rate",
    "goodput.requests_per_s",
)


@dataclass
class Row:
    figure: str
    baseline: float | None
    candidate: float | None
    gated: str  # "" | "throughput" | "latency"
    limit: float | None = None
    regressed: bool = False

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.candidate is None or self.baseline == 0:
            return None
        return (self.candidate - self.baseline) / self.baseline


@dataclass
class Comparison:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(r.regressed for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "notes": self.notes,
            "rows": [
                {
                    "figure": r.figure,
                    "baseline": r.baseline,
                    "candidate": r.candidate,
                    "change": r.change,
                    "gated": r.gated or None,
                    "limit": r.limit,
                    "regressed": r.regressed,
                }
                for r in self.rows
            ],
        }


def latency_path(name: str) -> str:
    """``"ttft.p95"`` or ``"ttft_p95"`` -> ``"latency_ms.ttft.p95"``."""
    name = name.strip().replace("_p", ".p").replace("_max", ".max").replace("_mean", ".mean")
    metric, _, stat = name.partition(".")
    if metric not in ("ttft", "itl", "inter_chunk", "tpot", "e2e", "queue") or stat not in (
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        "mean",
    ):
        raise ValueError(
            f"latency figure {name!r}: expected METRIC.STAT, e.g. e2e.p95 "
            "(metrics ttft itl inter_chunk tpot e2e queue; stats p50 p90 p95 p99 max mean)"
        )
    return f"latency_ms.{metric}.{stat}"


def compare(
    baseline: dict[str, Any],
    candidate: dict[str, Any],
    latency: tuple[str, ...] = DEFAULT_LATENCY,
    max_latency_rise: float = 0.10,
    max_throughput_drop: float = 0.10,
) -> Comparison:
    result = Comparison()
    for path in THROUGHPUT_FIGURES:
        a, b = figure(baseline, path), figure(candidate, path)
        row = Row(path, a, b, "throughput", -max_throughput_drop)
        if a and b is not None and a > 0:
            row.regressed = (b - a) / a < -max_throughput_drop
        elif a and b is None:
            row.regressed = True
        result.rows.append(row)
    for name in latency:
        path = latency_path(name)
        a, b = figure(baseline, path), figure(candidate, path)
        row = Row(path, a, b, "latency", max_latency_rise)
        if a is not None and b is not None and a > 0:
            row.regressed = (b - a) / a > max_latency_rise
        elif a is not None and b is None:
            result.notes.append(f"{path}: the candidate run has no such figure")
        result.rows.append(row)
    for path in CONTEXT_FIGURES:
        result.rows.append(Row(path, figure(baseline, path), figure(candidate, path), ""))
    for key in ("profile", "api", "model", "users", "rate"):
        a_run, b_run = baseline.get("run", {}), candidate.get("run", {})
        if a_run.get(key) != b_run.get(key):
            result.notes.append(
                f"the runs differ in {key}: {a_run.get(key)!r} vs {b_run.get(key)!r}"
            )
    if candidate.get("requests", {}).get("ok", 0) == 0:
        result.notes.append("the candidate run has no successful request")
    return result
