"""From raw samples to the run summary: every metric of ``load-metrics.md``, one definition each.

The summary is a plain JSON-able dict (``summary.json``); the HTML report, the
comparison gate and the sweep all read it, so it carries the time series and the
histograms the charts need as well as the figures.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from ollama_harness.load.percentiles import describe, histogram, percentile
from ollama_harness.load.samples import Sample
from ollama_harness.load.slo import Objective

SUMMARY_SCHEMA = "ollama-harness/load-summary/1"
#: Latency metrics in the summary: name -> how one sample contributes values.
LATENCIES: tuple[str, ...] = ("ttft", "itl", "inter_chunk", "tpot", "e2e", "queue")


def _latency_values(samples: Sequence[Sample], name: str) -> list[float]:
    if name == "inter_chunk":
        return [gap for s in samples for gap in s.chunk_gaps_ms]
    attribute = {"ttft": "ttft_ms", "itl": "itl_ms", "tpot": "tpot_ms", "e2e": "e2e_ms"}.get(
        name, "queue_ms"
    )
    return [v for s in samples if (v := getattr(s, attribute)) is not None]


def meets(sample: Sample, objectives: Sequence[Objective]) -> bool:
    """Whether one successful request stayed within every per-request limit."""
    if not sample.ok:
        return False
    for objective in objectives:
        value = getattr(sample, objective.attribute)
        if value is not None and value > objective.limit_ms:
            return False
    return True


def _bucket_width(window_s: float) -> float:
    """About 60 points over the run, at a round width."""
    for width in (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0):
        if window_s / width <= 90:
            return width
    return 600.0


def _p(values: list[float], pct: float) -> float | None:
    return percentile(sorted(values), pct) if values else None


def timeline(samples: Sequence[Sample], start: float, window_s: float) -> dict[str, Any]:
    """Per-bucket throughput and latency percentiles, by completion time."""
    width = _bucket_width(window_s)
    # the last bucket absorbs the remainder (half to one and a half widths), so a
    # sliver at the end cannot show as a spike or a dip
    count = max(1, round(window_s / width))
    done: list[list[Sample]] = [[] for _ in range(count)]
    users: list[dict[int, int]] = [defaultdict(int) for _ in range(count)]
    for sample in samples:
        index = min(int((sample.end_at - start) / width), count - 1)
        done[max(index, 0)].append(sample)
        sent = min(max(int((sample.scheduled_at - start) / width), 0), count - 1)
        users[sent][sample.worker] = max(users[sent][sample.worker], sample.users)
    series: dict[str, Any] = {"bucket_s": width, "t": [], "users": []}
    for key in (
        "requests_per_s",
        "errors_per_s",
        "output_tokens_per_s",
        "ttft_p50",
        "ttft_p95",
        "e2e_p50",
        "e2e_p95",
        "itl_p50",
    ):
        series[key] = []
    # A bucket in which a worker sent nothing (its users all busy with long requests)
    # still had those users: carry each worker's last known count forward.
    active: dict[int, int] = {}
    for i, bucket in enumerate(done):
        ok = [s for s in bucket if s.ok]
        span = max(window_s - i * width, 1e-3) if i == count - 1 else width
        series["t"].append(round(window_s if i == count - 1 else (i + 1) * width, 3))
        active.update(users[i])
        series["users"].append(sum(active.values()))
        series["requests_per_s"].append(len(ok) / span)
        series["errors_per_s"].append((len(bucket) - len(ok)) / span)
        series["output_tokens_per_s"].append(sum(s.output_tokens or 0 for s in ok) / span)
        ttft = [s.ttft_ms for s in ok if s.ttft_ms is not None]
        e2e = [s.e2e_ms for s in ok]
        itl = [v for s in ok if (v := s.itl_ms) is not None]
        series["ttft_p50"].append(_p(ttft, 50))
        series["ttft_p95"].append(_p(ttft, 95))
        series["e2e_p50"].append(_p(e2e, 50))
        series["e2e_p95"].append(_p(e2e, 95))
        series["itl_p50"].append(_p(itl, 50))
    return series


def _goodput(
    ok: Sequence[Sample], objectives: Sequence[Objective], window_s: float, total: int
) -> dict[str, Any] | None:
    if not objectives:
        return None
    good = sum(1 for s in ok if meets(s, objectives))
    checks: dict[str, Any] = {}
    for objective in objectives:
        values = sorted(v for s in ok if (v := getattr(s, objective.attribute)) is not None)
        if not values:
            value = None
        elif objective.stat == "mean":
            value = math.fsum(values) / len(values)
        elif objective.stat == "max":
            value = values[-1]
        else:
            value = percentile(values, float(objective.stat[1:]))
        checks[objective.key] = {
            "limit_ms": objective.limit_ms,
            "value_ms": value,
            "met": value is not None and value <= objective.limit_ms,
        }
    return {
        "slo": {o.key: o.limit_ms for o in objectives},
        "requests_per_s": good / window_s if window_s > 0 else 0.0,
        "good_requests": good,
        "fraction": good / total if total else 0.0,
        "checks": checks,
        "met": all(c["met"] for c in checks.values()),
    }


def _rates(ok: Sequence[Sample]) -> dict[str, Any]:
    client = describe(s.client_decode_tps for s in ok)
    server = describe(s.server_decode_tps for s in ok)
    prefill = describe(s.server_prefill_tps for s in ok)
    ratio = None
    if client and server and server["p50"]:
        ratio = client["p50"] / server["p50"]
    return {
        "client_decode": client,
        "server_decode": server,
        "server_prefill": prefill,
        "client_over_server_decode_p50": ratio,
    }


def summarize(
    samples: Sequence[Sample],
    objectives: Sequence[Objective] = (),
    run: dict[str, Any] | None = None,
    cut_off: int = 0,
) -> dict[str, Any]:
    """The whole summary of one run; works on zero samples (figures are then null)."""
    ok = [s for s in samples if s.ok]
    failed = [s for s in samples if not s.ok]
    if samples:
        start = min(s.scheduled_at for s in samples)
        end = max(s.end_at for s in samples)
        window_s = max(end - start, 1e-9)
    else:
        start, window_s = 0.0, 0.0
    output_total = sum(s.output_tokens or 0 for s in ok)
    prompt_total = sum(s.prompt_tokens or 0 for s in ok)
    per_s = (lambda n: n / window_s) if window_s > 0 else (lambda n: 0.0)

    errors_by_kind = Counter(s.error_kind for s in failed)
    statuses = Counter(s.status for s in failed if s.status >= 400)
    examples: dict[str, str] = {}
    for s in failed:
        examples.setdefault(s.error_kind, f"{s.endpoint} {s.status or ''} {s.error}".strip())

    by_kind: dict[str, Any] = {}
    for kind in sorted({s.kind for s in samples}):
        mine = [s for s in samples if s.kind == kind]
        mine_ok = [s for s in mine if s.ok]
        by_kind[kind] = {
            "requests": len(mine),
            "errors": len(mine) - len(mine_ok),
            "endpoints": sorted({s.endpoint for s in mine}),
            "requests_per_s": per_s(len(mine_ok)),
            "output_tokens_per_s": per_s(sum(s.output_tokens or 0 for s in mine_ok)),
            "latency_ms": {
                name: describe(_latency_values(mine_ok, name)) for name in ("ttft", "itl", "e2e")
            },
        }

    return {
        "schema": SUMMARY_SCHEMA,
        "run": dict(run or {}),
        "started_at": start,
        "window_s": window_s,
        "requests": {
            "total": len(samples),
            "ok": len(ok),
            "errors": len(failed),
            "cut_off": cut_off,
            "streamed": sum(1 for s in samples if s.stream),
        },
        "errors": {
            "by_kind": dict(errors_by_kind.most_common()),
            "by_status": {str(k): v for k, v in statuses.most_common()},
            "examples": examples,
            "rate": len(failed) / len(samples) if samples else 0.0,
        },
        "throughput": {
            "requests_per_s": per_s(len(ok)),
            "output_tokens_per_s": per_s(output_total),
            "total_tokens_per_s": per_s(output_total + prompt_total),
        },
        "tokens": {
            "output_total": output_total,
            "prompt_total": prompt_total,
            "source": dict(Counter(s.token_source for s in ok).most_common()),
            "output_per_request": describe(float(s.output_tokens) for s in ok if s.output_tokens),
        },
        "latency_ms": {name: describe(_latency_values(ok, name)) for name in LATENCIES},
        "rates_tps": _rates(ok),
        "goodput": _goodput(ok, objectives, window_s, len(samples)),
        "by_kind": by_kind,
        "timeline": timeline(samples, start, window_s) if samples else None,
        "histograms": {
            "ttft_ms": histogram(s.ttft_ms for s in ok),
            "itl_ms": histogram(s.itl_ms for s in ok),
            "inter_chunk_ms": histogram(_latency_values(ok, "inter_chunk")),
            "e2e_ms": histogram(s.e2e_ms for s in ok),
        },
    }


def figure(summary: dict[str, Any], path: str) -> float | None:
    """A number out of a summary by dotted path: ``"latency_ms.e2e.p95"``,
    ``"throughput.requests_per_s"``; ``None`` when the run has no such figure."""
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def key_figures(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The few figures a one-screen summary shows, formatted: (label, value) pairs."""

    def ms(path: str) -> str:
        value = figure(summary, path)
        return "-" if value is None else f"{value:.1f} ms"

    req = summary["requests"]
    thr = summary["throughput"]
    rows = [
        ("requests", f"{req['total']} ({req['ok']} ok, {req['errors']} errors)"),
        (
            "throughput",
            f"{thr['requests_per_s']:.2f} req/s, {thr['output_tokens_per_s']:.1f} tok/s",
        ),
        ("TTFT p50 / p95", f"{ms('latency_ms.ttft.p50')} / {ms('latency_ms.ttft.p95')}"),
        ("ITL p50 / p95", f"{ms('latency_ms.itl.p50')} / {ms('latency_ms.itl.p95')}"),
        ("E2E p50 / p95", f"{ms('latency_ms.e2e.p50')} / {ms('latency_ms.e2e.p95')}"),
    ]
    if summary["errors"]["by_kind"]:
        kinds = ", ".join(f"{k} {v}" for k, v in summary["errors"]["by_kind"].items())
        rows.append(("errors by kind", kinds))
    goodput = summary.get("goodput")
    if goodput:
        verdict = "met" if goodput["met"] else "missed"
        rows.append(("SLO", f"{verdict}; goodput {goodput['requests_per_s']:.2f} req/s"))
    return rows
