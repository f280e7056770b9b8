"""HTML reports: self-contained, every chart drawn; comparison gate; report files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ollama_harness.cli import main
from ollama_harness.load import (
    Sample,
    compare,
    render_load_fragment,
    render_load_html,
    render_sweep_html,
    summarize,
)
from ollama_harness.load.charts import nice_ticks
from ollama_harness.load.reportfiles import ReportError, load_summary, write_run, write_sweep
from ollama_harness.load.slo import parse_slo
from ollama_harness.load.sweep import analyse, sweep_point

Make = Callable[..., Sample]


def run_samples(make: Make, scale: float = 1.0, errors: int = 1) -> list[Any]:
    samples = [
        make(
            at=1000.0 + i * 0.2,
            ttft=(80.0 + (i % 7) * 3) * scale,
            e2e=(600.0 + (i % 5) * 20) * scale,
            tokens=20 + i % 3,
            gaps=(10.0 * scale, 12.0 * scale),
            eval_ns=int(500e6 * scale),
            kind="chat" if i % 3 else "generate",
        )
        for i in range(60)
    ]
    samples += [
        make(at=1001.0 + i, error_kind="http_503", status=503, tokens=None, e2e=3.0)
        for i in range(errors)
    ]
    samples.append(make(at=1002.0, kind="embed", ttft=None, tokens=None, e2e=30.0 * scale))
    return samples


def summary_of(make: Make, scale: float = 1.0, errors: int = 1) -> dict[str, Any]:
    run = {"profile": "mixed", "api": "native", "model": "m", "url": "http://x", "users": 4}
    return summarize(run_samples(make, scale, errors), parse_slo("ttft_p95=150ms"), run)


def sweep_of(make: Make) -> dict[str, Any]:
    points = [
        sweep_point(level, summary_of(make, scale))
        for level, scale in ((1, 1.0), (2, 1.1), (4, 1.6))
    ]
    for p, thr in zip(points, (100.0, 180.0, 190.0), strict=True):
        p["output_tokens_per_s"] = thr
    return analyse(points, "users", {"slo": "ttft_p95=150ms"})


def test_fragment_is_self_contained_and_complete(make: Make) -> None:
    html = render_load_fragment(
        summary_of(
            make,
        ),
        "Mixed <run>",
    )
    assert html.startswith('<section class="oh-load">')
    assert "Mixed &lt;run&gt;" in html  # escaped
    assert html.count('<svg class="oh-chart"') == 7
    for needle in ("TTFT", "ITL per token", "inter-chunk", "http_503", "goodput", "eval_count"):
        assert needle in html
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(""", html)


def test_empty_run_still_renders() -> None:
    html = render_load_html(summarize([]))
    assert "no samples" in html or "no data" in html


def test_nice_ticks() -> None:
    assert nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 0.7)[-1] >= 0.7
    assert nice_ticks(5, 5)[0] <= 5


def test_sweep_report_marks_saturation(make: Make) -> None:
    sweep = sweep_of(make)
    html = render_sweep_html(sweep)
    assert sweep["saturation"]["level"] == 2
    assert "oh-marker" in html and "saturation: users 2" in html


def test_compare_gate(make: Make) -> None:
    base = summary_of(make, 1.0)
    same = compare(base, summary_of(make, 1.0))
    assert not same.regressed
    slower = compare(base, summary_of(make, 1.5), ("e2e.p95",), max_latency_rise=0.10)
    assert slower.regressed
    rows = {r.figure: r for r in slower.rows}
    assert rows["latency_ms.e2e.p95"].regressed
    assert rows["latency_ms.e2e.p95"].change == pytest.approx(0.5, rel=0.05)
    assert not compare(base, summary_of(make, 1.5), ("e2e.p95",), max_latency_rise=0.6).regressed
    with pytest.raises(ValueError, match=r"METRIC\.STAT"):
        compare(base, base, ("speed",))


def write(tmp: Path, name: str, summary: dict[str, Any]) -> Path:
    return write_run(tmp / name, [], summary)


def test_report_command_exits_non_zero_on_regression(
    make: Make, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path, "a", summary_of(make, 1.0))
    b = write(tmp_path, "b", summary_of(make, 1.0))
    c = write(tmp_path, "c", summary_of(make, 1.4))
    assert main(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "b vs a: ok" in out and "| requests/s |" in out
    html = tmp_path / "cmp.html"
    assert main(["report", str(a), str(c), "--html", str(html)]) == 1
    out = capsys.readouterr().out
    assert "c vs a: REGRESSION" in out and "**regressed**" in out
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "regression" in page
    # a looser gate passes the same pair
    assert main(["report", str(a), str(c), "--max-latency-rise", "50%"]) == 0
    assert main(["report", str(a), str(c), "--latency", "bogus"]) == 2
    assert "METRIC.STAT" in capsys.readouterr().err


def test_report_command_on_one_run_and_a_sweep(make: Make, tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a",
        summary_of(
            make,
        ),
    )
    assert main(["report", str(a), "--html", str(tmp_path / "one.html")]) == 0
    sweep_dir = write_sweep(tmp_path / "sweep", sweep_of(make))
    assert main(["report", str(sweep_dir)]) == 0


def test_unreadable_summaries_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "summary.json").write_text("{not json")
    with pytest.raises(ReportError, match="not readable"):
        load_summary(tmp_path / "x")
    (tmp_path / "x" / "summary.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ReportError, match="not a load summary"):
        load_summary(tmp_path / "x")
    assert main(["report", str(tmp_path / "x")]) == 2


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="headless Chromium (Debian package chromium) absent")
@pytest.mark.parametrize("which", ["run", "sweep", "broken"])
def test_report_renders_in_headless_chromium(make: Make, tmp_path: Path, which: str) -> None:
    if which == "sweep":
        out = write_sweep(tmp_path / "sweep", sweep_of(make))
        expected = {"charts": "2", "drawn": "2", "errors": "0"}
    else:
        out = write_run(
            tmp_path / "run",
            run_samples(
                make,
            ),
            summary_of(
                make,
            ),
        )
        expected = {"charts": "7", "drawn": "7", "errors": "0"}
    if which == "broken":  # the check itself must see an empty chart and a script error
        page = (out / "report.html").read_text()
        page = page.replace(
            "<body>",
            '<body><svg class="oh-chart"></svg><script>window.undefinedThing();</script>',
        )
        (out / "report.html").write_text(page)
        expected = {"charts": "8", "drawn": "7", "errors": "1"}
    browser = chromium()
    assert browser is not None
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    check = re.search(r'<p id="oh-check"([^>]*)>', dom)
    assert check is not None, dom[-2000:]
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', check.group(1)))
    assert attrs == expected, dom[-3000:]
    assert dom.count('data-drawn="yes"') == int(expected["drawn"])
