"""Summaries computed from raw samples: one definition per metric."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from ollama_harness.load.metrics import figure, key_figures, meets, summarize
from ollama_harness.load.percentiles import describe, histogram, percentile
from ollama_harness.load.samples import Sample, read_csv, write_csv
from ollama_harness.load.slo import SloError, parse_slo

Make = Callable[..., Sample]


def test_per_request_figures_follow_the_definitions(make: Make) -> None:
    s = make(ttft=100.0, e2e=1000.0, tokens=10, eval_ns=900_000_000)
    assert s.itl_ms == pytest.approx(100.0)  # (1000 - 100) / (10 - 1)
    assert s.tpot_ms == pytest.approx(100.0)  # 1000 / 10
    assert s.client_decode_tps == pytest.approx(10.0)
    assert s.server_decode_tps == pytest.approx(10 / 0.9)
    assert make(tokens=1).itl_ms is None  # one token has no inter-token latency
    assert make(ttft=None).itl_ms is None


def test_percentiles_interpolate_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 95) == 3.0
    stats = describe([None, 2.0, 1.0, 3.0])
    assert stats is not None and stats["count"] == 3 and stats["p50"] == 2.0
    assert describe([None]) is None


def test_histogram_keeps_every_sample() -> None:
    data = [float(v) for v in range(1000)] + [1e6]
    hist = histogram(data, bins=20)
    assert hist is not None
    assert sum(hist["counts"]) == len(data)
    assert len(hist["edges"]) == 21


def test_summary_figures(make: Make) -> None:
    samples = [make(at=1000.0 + i * 0.1, ttft=100.0 + i, e2e=1000.0) for i in range(10)]
    samples.append(make(at=1000.5, error_kind="http_503", status=503, tokens=None, e2e=5.0))
    samples.append(make(at=1000.6, error_kind="stream_error", tokens=None, e2e=50.0))
    summary = summarize(samples, parse_slo("ttft_p95=105ms"), {"profile": "test"})
    assert summary["requests"] == {
        "total": 12,
        "ok": 10,
        "errors": 2,
        "cut_off": 0,
        "streamed": 12,
    }
    # window: first scheduled send (1000.0) to the last byte (1000.9 + 1.0 s)
    assert summary["window_s"] == pytest.approx(1.9)
    assert summary["throughput"]["requests_per_s"] == pytest.approx(10 / 1.9)
    assert summary["throughput"]["output_tokens_per_s"] == pytest.approx(100 / 1.9)
    assert summary["throughput"]["total_tokens_per_s"] == pytest.approx(150 / 1.9)
    assert summary["errors"]["by_kind"] == {"http_503": 1, "stream_error": 1}
    assert summary["errors"]["by_status"] == {"503": 1}
    # errors never enter the latency figures
    assert summary["latency_ms"]["e2e"]["min"] == 1000.0
    assert summary["latency_ms"]["ttft"]["p50"] == pytest.approx(104.5)
    goodput = summary["goodput"]
    assert goodput["good_requests"] == 6  # TTFT 100..105
    assert goodput["requests_per_s"] == pytest.approx(6 / 1.9)
    assert goodput["checks"]["ttft_p95"]["met"] is False
    assert summary["tokens"]["source"] == {"eval_count": 10}
    assert figure(summary, "latency_ms.ttft.p50") == pytest.approx(104.5)
    assert figure(summary, "latency_ms.nope.p50") is None
    assert summary["timeline"]["requests_per_s"]
    figures = dict(key_figures(summary))
    assert figures["requests"] == "12 (10 ok, 2 errors)"
    assert figures["errors by kind"] == "http_503 1, stream_error 1"
    assert figures["SLO"].startswith("missed")


def test_inter_chunk_latency_is_reported_apart_from_itl(make: Make) -> None:
    sample = make(ttft=100.0, e2e=1000.0, tokens=10, gaps=(300.0, 300.0, 300.0))
    summary = summarize([sample])
    assert summary["latency_ms"]["itl"]["p50"] == pytest.approx(100.0)
    assert summary["latency_ms"]["inter_chunk"]["p50"] == pytest.approx(300.0)
    assert summary["latency_ms"]["inter_chunk"]["count"] == 3


def test_goodput_ignores_metrics_a_request_does_not_have(make: Make) -> None:
    embed = make(kind="embed", ttft=None, tokens=None, e2e=20.0)
    objectives = parse_slo("ttft_p95=50ms,e2e_p99=1s")
    assert meets(embed, objectives)
    assert not meets(make(ttft=60.0), objectives)
    assert not meets(make(error_kind="timeout"), ())


def test_empty_run_has_a_summary() -> None:
    summary = summarize([], parse_slo("ttft_p95=1s"))
    assert summary["requests"]["total"] == 0
    assert summary["throughput"]["requests_per_s"] == 0.0
    assert summary["latency_ms"]["ttft"] is None
    assert summary["goodput"]["met"] is False


def test_timeline_rates_cover_the_partial_last_bucket(make: Make) -> None:
    samples = [make(at=1000.0 + i * 0.05, e2e=10.0) for i in range(100)]  # 20/s for 5 s
    series = summarize(samples)["timeline"]
    assert series["bucket_s"] == 1.0
    assert all(rate == pytest.approx(20.0, rel=0.15) for rate in series["requests_per_s"])


def test_timeline_users_hold_while_long_requests_run(make: Make) -> None:
    """Four users each sending a 5 s request every 5 s: the buckets between the sends
    still had four users, not zero."""
    samples = [make(at=1000.0 + t, e2e=4990.0, worker=0) for t in (0.0, 5.0, 10.0)]
    series = summarize(samples)["timeline"]
    assert len(series["users"]) > 5
    assert all(users == 4 for users in series["users"]), series["users"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ttft=500ms", "METRIC_STAT"),
        ("ttft_p95", "METRIC_STAT"),
        ("foo_p95=1s", "unknown metric"),
        ("ttft_p95=fast", "invalid duration"),
        ("ttft_p95=0s", "positive"),
    ],
)
def test_slo_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SloError, match=message):
        parse_slo(text)


def test_slo_parses_durations() -> None:
    objectives = parse_slo(" ttft_p95=0.5s, itl_p50=20ms ,e2e_max=1m")
    assert [(o.key, o.limit_ms) for o in objectives] == [
        ("ttft_p95", 500.0),
        ("itl_p50", 20.0),
        ("e2e_max", 60_000.0),
    ]


def test_csv_and_wire_round_trips(make: Make, tmp_path: Path) -> None:
    samples = [make(gaps=(1.5, 2.25)), make(ttft=None, tokens=None, error_kind="timeout")]
    buffer = io.StringIO()
    assert write_csv(samples, buffer) == 2
    path = tmp_path / "samples.csv"
    path.write_text(buffer.getvalue())
    back = read_csv(path)
    assert [s.request_id for s in back] == [s.request_id for s in samples]
    assert back[0].chunk_gaps_ms == (1.5, 2.25)
    assert back[1].ttft_ms is None and back[1].error_kind == "timeout"
    assert math.isclose(back[0].scheduled_at, samples[0].scheduled_at, abs_tol=1e-6)
    assert Sample.from_wire(samples[0].to_wire()) == samples[0]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a samples file"):
        read_csv(tmp_path / "other.csv")
