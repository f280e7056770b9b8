"""A sweep: one run per load level, then where throughput stops growing.

**Saturation point**: the lowest level whose throughput reaches 90% of the best
throughput of the whole sweep. Past it, more load buys at most 10% more
throughput and only adds latency. If only the last level gets there, the sweep
did not reach saturation and says so (go higher).

Throughput is output tokens/s when the runs produced tokens, requests/s otherwise
(an embed-only sweep). With an SLO, the sweep also reports the level with the best
goodput and the highest level whose run met every objective.
"""

from __future__ import annotations

import itertools
from typing import Any

from ollama_harness.load.metrics import figure

SWEEP_SCHEMA = "ollama-harness/load-sweep/1"
SATURATION_FRACTION = 0.9


def parse_levels(text: str, what: str) -> list[float]:
    """``"1,2,4,8"`` -> [1, 2, 4, 8], strictly increasing and positive."""
    try:
        levels = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected numbers separated by commas, got {text!r}") from None
    if not levels:
        raise ValueError(f"{what}: no levels given")
    if any(v <= 0 for v in levels) or any(b <= a for a, b in itertools.pairwise(levels)):
        raise ValueError(f"{what}: levels must be positive and increasing, got {text!r}")
    return levels


def sweep_point(level: float, summary: dict[str, Any], run_dir: str = "") -> dict[str, Any]:
    goodput = summary.get("goodput") or {}
    return {
        "level": level,
        "run_dir": run_dir,
        "requests": summary["requests"]["total"],
        "errors": summary["requests"]["errors"],
        "requests_per_s": figure(summary, "throughput.requests_per_s") or 0.0,
        "output_tokens_per_s": figure(summary, "throughput.output_tokens_per_s") or 0.0,
        "goodput_per_s": goodput.get("requests_per_s"),
        "slo_met": goodput.get("met"),
        "ttft_p50": figure(summary, "latency_ms.ttft.p50"),
        "ttft_p95": figure(summary, "latency_ms.ttft.p95"),
        "itl_p50": figure(summary, "latency_ms.itl.p50"),
        "e2e_p50": figure(summary, "latency_ms.e2e.p50"),
        "e2e_p95": figure(summary, "latency_ms.e2e.p95"),
        "queue_p95": figure(summary, "latency_ms.queue.p95"),
    }


def analyse(points: list[dict[str, Any]], mode: str, run: dict[str, Any]) -> dict[str, Any]:
    """The sweep summary: its points, the saturation point, best goodput under the SLO."""
    points = sorted(points, key=lambda p: p["level"])
    key = (
        "output_tokens_per_s"
        if any(p["output_tokens_per_s"] > 0 for p in points)
        else "requests_per_s"
    )
    saturation: dict[str, Any] | None = None
    if points:
        best = max(p[key] for p in points)
        index = next(i for i, p in enumerate(points) if p[key] >= SATURATION_FRACTION * best)
        reached = index < len(points) - 1 and best > 0
        saturation = {
            "index": index,
            "level": points[index]["level"],
            "throughput": points[index][key],
            "best_throughput": best,
            "reached": reached,
            "rule": f"lowest level with {key} >= {SATURATION_FRACTION:.0%} of the sweep's best",
        }
    with_goodput = [p for p in points if p["goodput_per_s"] is not None]
    best_goodput = max(with_goodput, key=lambda p: p["goodput_per_s"]) if with_goodput else None
    meeting = [p for p in points if p["slo_met"]]
    return {
        "schema": SWEEP_SCHEMA,
        "run": run,
        "mode": mode,
        "throughput_key": key,
        "points": points,
        "saturation": saturation,
        "best_goodput": (
            {"level": best_goodput["level"], "goodput_per_s": best_goodput["goodput_per_s"]}
            if best_goodput
            else None
        ),
        "highest_level_meeting_slo": meeting[-1]["level"] if meeting else None,
    }
