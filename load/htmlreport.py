"""Self-contained HTML: the load report as a fragment (for embedding) or a whole page.

A fragment is one ``<section class="oh-load">`` carrying its own scoped style, so
``ollama-harness demo`` can place it beside the conformance matrix. The page adds
a small script that records script errors and counts the charts it finds drawn,
showing both at the bottom; the browser test reads them back.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

from ollama_harness.load.charts import Marker, Series, curve_chart, histogram_chart, line_chart

STYLE = """
.oh-load{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111}
.oh-load h2{font-size:20px;margin:18px 0 6px}.oh-load h3{font-size:16px;margin:18px 0 6px}
.oh-load .oh-meta{color:#555;margin:0 0 10px}
.oh-load .oh-cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.oh-load .oh-card{border:1px solid #ddd;border-radius:8px;padding:8px 12px;min-width:120px}
.oh-load .oh-card b{display:block;font-size:20px}.oh-load .oh-card span{color:#555;font-size:12px}
.oh-load table{border-collapse:collapse;margin:6px 0 12px}
.oh-load th,.oh-load td{border:1px solid #ddd;padding:3px 8px;text-align:right}
.oh-load th:first-child,.oh-load td:first-child{text-align:left}
.oh-load th{background:#f4f4f5}.oh-load .oh-bad{color:#b91c1c;font-weight:600}
.oh-load .oh-good{color:#047857;font-weight:600}
.oh-load .oh-charts{display:flex;flex-wrap:wrap;gap:12px}
.oh-load figure{margin:0;border:1px solid #eee;border-radius:8px;padding:4px}
.oh-load .oh-title{font-weight:600;font-size:13px}.oh-load .oh-tick{font-size:11px;fill:#444}
.oh-load .oh-label{font-size:12px;fill:#333}.oh-load .oh-grid{stroke:#eee}
.oh-load .oh-axis{stroke:#888}.oh-load .oh-empty{fill:#888;font-style:italic}
.oh-load .oh-note{color:#555;font-size:12px}
"""

#: In <head>, before anything else can fail: collect every script error of the page.
ERROR_SCRIPT = (
    "window.ohErrors=[];window.addEventListener('error',function(e){"
    "window.ohErrors.push(String(e.message||e));if(window.ohShow)window.ohShow();});"
)
PAGE_SCRIPT = """
(function(){
  var errors=window.ohErrors||[];
  function show(){
    var el=document.getElementById('oh-check');if(!el)return;
    var charts=document.querySelectorAll('svg.oh-chart'),drawn=0;
    charts.forEach(function(svg){
      var marks=svg.querySelectorAll('polyline,rect.oh-bar,circle.oh-point,text.oh-empty');
      var box=svg.getBBox();
      var ok=marks.length>0&&box.width>0&&box.height>0;
      svg.setAttribute('data-drawn',ok?'yes':'no');if(ok)drawn++;
    });
    el.setAttribute('data-charts',String(charts.length));
    el.setAttribute('data-drawn',String(drawn));
    el.setAttribute('data-errors',String(errors.length));
    el.textContent=drawn+' of '+charts.length+' charts drawn'+
      (errors.length?'; script errors: '+errors.join(' | '):'; no script errors');
  }
  window.ohShow=show;
  if(document.readyState==='loading'){document.addEventListener('DOMContentLoaded',show);}
  else{show();}
})();
"""


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.1f}"


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _card(label: str, value: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<div class="oh-card"><b{klass}>{escape(value)}</b><span>{escape(label)}</span></div>'


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


LATENCY_NAMES = {
    "ttft": "TTFT (scheduled send to first text)",
    "itl": "ITL per token ((E2E-TTFT)/(tokens-1))",
    "inter_chunk": "inter-chunk latency (gaps between chunks)",
    "tpot": "TPOT (E2E / output tokens)",
    "e2e": "E2E (scheduled send to last byte)",
    "queue": "queue time (actual - scheduled send)",
}


def _latency_table(latency: dict[str, Any]) -> str:
    rows = []
    for key, label in LATENCY_NAMES.items():
        stats = latency.get(key)
        if not stats:
            rows.append([escape(label), "0", *["-"] * 7])
            continue
        rows.append(
            [
                escape(label),
                str(stats["count"]),
                *(_ms(stats[k]) for k in ("min", "mean", "p50", "p90", "p95", "p99", "max")),
            ]
        )
    return _table(["metric (ms)", "count", "min", "mean", "p50", "p90", "p95", "p99", "max"], rows)


def _rates_table(rates: dict[str, Any]) -> str:
    rows = []
    names = {
        "client_decode": "client decode (1000 / ITL)",
        "server_decode": "server decode (eval_count / eval_duration)",
        "server_prefill": "server prefill (prompt_eval_count / prompt_eval_duration)",
    }
    for key, label in names.items():
        stats = rates.get(key)
        rows.append(
            [escape(label)]
            + ([_num(stats[k], 1) for k in ("p50", "mean", "p95")] if stats else ["-"] * 3)
        )
    table = _table(["tokens/s", "p50", "mean", "p95"], rows)
    ratio = rates.get("client_over_server_decode_p50")
    if ratio:
        table += (
            f'<p class="oh-note">Client-side decode rate is {ratio:.1%} of the server\'s '
            "(median): the rest is network, queueing and the server's HTTP layer.</p>"
        )
    return table


def _errors_block(summary: dict[str, Any]) -> str:
    errors = summary["errors"]
    if not errors["by_kind"]:
        return '<p class="oh-good">No errors.</p>'
    rows = [
        [escape(kind), str(count), escape(errors["examples"].get(kind, ""))]
        for kind, count in errors["by_kind"].items()
    ]
    return f'<p class="oh-bad">{summary["requests"]["errors"]} failed requests ' + (
        f"({errors['rate']:.1%}).</p>" + _table(["kind", "count", "example"], rows)
    )


def _slo_block(goodput: dict[str, Any] | None, window_s: float) -> str:
    if not goodput:
        return '<p class="oh-note">No SLO given (use --slo ttft_p95=500ms,itl_p95=50ms).</p>'
    rows = []
    for key, check in goodput["checks"].items():
        verdict = (
            '<span class="oh-good">met</span>'
            if check["met"]
            else '<span class="oh-bad">missed</span>'
        )
        rows.append([escape(key), _ms(check["limit_ms"]), _ms(check["value_ms"]), verdict])
    return (
        f"<p>Goodput {goodput['requests_per_s']:.2f} req/s: {goodput['good_requests']} requests "
        f"({goodput['fraction']:.1%}) met every objective.</p>"
        + _table(["objective", "limit ms", "run value ms", ""], rows)
    )


def _by_kind_table(by_kind: dict[str, Any]) -> str:
    rows = []
    for kind, data in by_kind.items():
        lat = data["latency_ms"]
        rows.append(
            [
                escape(kind),
                escape(", ".join(data["endpoints"])),
                str(data["requests"]),
                str(data["errors"]),
                _num(data["requests_per_s"]),
                _num(data["output_tokens_per_s"], 1),
                _ms((lat.get("ttft") or {}).get("p50")),
                _ms((lat.get("itl") or {}).get("p50")),
                _ms((lat.get("e2e") or {}).get("p50")),
                _ms((lat.get("e2e") or {}).get("p95")),
            ]
        )
    return _table(
        [
            "kind",
            "endpoint",
            "requests",
            "errors",
            "req/s",
            "out tok/s",
            "TTFT p50",
            "ITL p50",
            "E2E p50",
            "E2E p95",
        ],
        rows,
    )


def _charts(summary: dict[str, Any]) -> list[str]:
    charts: list[str] = []
    series = summary.get("timeline")
    if series:
        t = series["t"]
        charts.append(
            line_chart(
                "Latency percentiles over time",
                t,
                [
                    Series("TTFT p50", series["ttft_p50"]),
                    Series("TTFT p95", series["ttft_p95"], dashed=True),
                    Series("E2E p50", series["e2e_p50"]),
                    Series("E2E p95", series["e2e_p95"], dashed=True),
                ],
                "seconds into the run (by completion)",
                "ms",
            )
        )
        charts.append(
            line_chart(
                "Throughput over time",
                t,
                [
                    Series("requests/s", series["requests_per_s"]),
                    Series("errors/s", series["errors_per_s"], color="#dc2626"),
                    Series("users", series["users"], color="#6b7280", dashed=True),
                ],
                "seconds into the run",
                "per second / users",
            )
        )
        charts.append(
            line_chart(
                "Output tokens per second over time",
                t,
                [Series("output tokens/s", series["output_tokens_per_s"], color="#059669")],
                "seconds into the run",
                "tokens/s",
            )
        )
    hist = summary.get("histograms") or {}
    names = (
        ("ttft_ms", "TTFT distribution", "requests", "#2563eb"),
        ("itl_ms", "ITL per token distribution", "requests", "#7c3aed"),
        ("inter_chunk_ms", "Inter-chunk latency distribution", "chunk gaps", "#0891b2"),
        ("e2e_ms", "E2E latency distribution", "requests", "#d97706"),
    )
    for key, title, counted, color in names:
        data = hist.get(key) or {"edges": [0.0, 1.0], "counts": []}
        charts.append(
            histogram_chart(
                title, data["edges"], data["counts"], "ms", y_label=counted, color=color
            )
        )
    return charts


def _run_meta(run: dict[str, Any], summary: dict[str, Any]) -> str:
    bits = [
        f"profile <b>{escape(str(run.get('profile', '?')))}</b>",
        f"api {escape(str(run.get('api', '?')))}",
        f"model {escape(str(run.get('model', '?')))}",
        f"target {escape(str(run.get('url', '?')))}",
    ]
    if run.get("rate"):
        bits.append(f"rate {run['rate']:g}/s")
    else:
        bits.append(f"users {run.get('users', '?')}")
    if summary.get("started_at"):
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(summary["started_at"]))
        bits.append(f"started {started}")
    bits.append(f"window {summary['window_s']:.1f} s")
    if run.get("generator_cpu_peak_percent") is not None:
        bits.append(f"generator CPU peak {run['generator_cpu_peak_percent']:.0f}%")
    sources = summary["tokens"]["source"]
    if sources:
        bits.append(
            "output tokens from " + escape(", ".join(f"{k} ({v})" for k, v in sources.items()))
        )
    return '<p class="oh-meta">' + " · ".join(bits) + "</p>"


def render_load_fragment(summary: dict[str, Any], title: str = "Load test") -> str:
    """The load report of one run as an embeddable ``<section>`` (style included)."""
    run = summary.get("run", {})
    req = summary["requests"]
    thr = summary["throughput"]
    goodput = summary.get("goodput")
    cards = [
        _card("requests", str(req["total"])),
        _card("succeeded", str(req["ok"])),
        _card("errors", str(req["errors"]), "oh-bad" if req["errors"] else "oh-good"),
        _card("requests/s", _num(thr["requests_per_s"])),
        _card("output tokens/s", _num(thr["output_tokens_per_s"], 1)),
        _card("total tokens/s", _num(thr["total_tokens_per_s"], 1)),
    ]
    ttft = summary["latency_ms"].get("ttft")
    itl = summary["latency_ms"].get("itl")
    if ttft:
        cards.append(_card("TTFT p50 / p95 ms", f"{_ms(ttft['p50'])} / {_ms(ttft['p95'])}"))
    if itl:
        cards.append(_card("ITL p50 / p95 ms", f"{_ms(itl['p50'])} / {_ms(itl['p95'])}"))
    if goodput:
        cards.append(
            _card(
                "goodput req/s",
                _num(goodput["requests_per_s"]),
                "oh-good" if goodput["met"] else "oh-bad",
            )
        )
    cpu = run.get("generator_cpu_peak_percent")
    busy = (
        f'<p class="oh-bad">The load generator reached {cpu:.0f}% of a CPU core: its own '
        "delays may inflate these latencies. Run it with more processes (--processes).</p>"
        if cpu is not None and cpu >= 90
        else ""
    )
    cut = (
        f'<p class="oh-note">{req["cut_off"]} requests were still running when the drain '
        "timeout ended the run; they are not in these figures.</p>"
        if req["cut_off"]
        else ""
    )
    figures = "".join(f"<figure>{chart}</figure>" for chart in _charts(summary))
    return (
        f'<section class="oh-load"><style>{STYLE}</style>'
        f"<h2>{escape(title)}</h2>{_run_meta(run, summary)}"
        f'<div class="oh-cards">{"".join(cards)}</div>{busy}{cut}'
        f"<h3>Latency</h3>{_latency_table(summary['latency_ms'])}"
        f"<h3>Service-level objectives</h3>{_slo_block(goodput, summary['window_s'])}"
        f"<h3>Errors</h3>{_errors_block(summary)}"
        f"<h3>By request kind</h3>{_by_kind_table(summary['by_kind'])}"
        f"<h3>Decode and prefill rates</h3>{_rates_table(summary['rates_tps'])}"
        f'<h3>Charts</h3><div class="oh-charts">{figures}</div>'
        '<p class="oh-note">Percentiles come from every raw sample (samples.csv), '
        "not from Locust's rounded statistics.</p></section>"
    )


def render_sweep_fragment(sweep: dict[str, Any], title: str = "Load sweep") -> str:
    """A sweep: its points, the throughput-vs-latency curve with the saturation point marked."""
    points = sweep["points"]
    key = sweep["throughput_key"]
    unit = "output tokens/s" if key == "output_tokens_per_s" else "requests/s"
    mode = sweep["mode"]
    sat = sweep.get("saturation")
    latency_key = "ttft" if any(p["ttft_p50"] is not None for p in points) else "e2e"

    def curve(stat: str) -> list[tuple[float, float, str]]:
        return [
            (p[key], p[f"{latency_key}_{stat}"], f"{mode} {p['level']:g}")
            for p in points
            if p[f"{latency_key}_{stat}"] is not None
        ]

    marker = None
    if sat is not None:
        point = points[sat["index"]]
        y = point.get(f"{latency_key}_p50")
        if y is not None:
            label = f"saturation: {mode} {sat['level']:g}"
            if not sat["reached"]:
                label += " (not reached)"
            marker = Marker(point[key], y, label)
    charts = [
        curve_chart(
            f"Throughput vs {latency_key.upper()} latency",
            curve("p50"),
            unit,
            f"{latency_key.upper()} ms",
            marker=marker,
            extra=[("p95", curve("p95"))],
        ),
        line_chart(
            f"Throughput and goodput by {mode}",
            [p["level"] for p in points],
            [
                Series("requests/s", [p["requests_per_s"] for p in points]),
                Series("goodput/s", [p["goodput_per_s"] for p in points], dashed=True),
            ],
            mode,
            "per second",
        ),
    ]
    rows = []
    for i, p in enumerate(points):
        flag = " ◀ saturation" if sat and i == sat["index"] else ""
        slo = "-" if p["slo_met"] is None else ("met" if p["slo_met"] else "missed")
        rows.append(
            [
                f"{p['level']:g}{flag}",
                str(p["requests"]),
                str(p["errors"]),
                _num(p["requests_per_s"]),
                _num(p["output_tokens_per_s"], 1),
                _num(p["goodput_per_s"]),
                slo,
                _ms(p["ttft_p50"]),
                _ms(p["ttft_p95"]),
                _ms(p["itl_p50"]),
                _ms(p["e2e_p95"]),
                _ms(p["queue_p95"]),
            ]
        )
    table = _table(
        [
            mode,
            "requests",
            "errors",
            "req/s",
            "out tok/s",
            "goodput/s",
            "SLO",
            "TTFT p50",
            "TTFT p95",
            "ITL p50",
            "E2E p95",
            "queue p95",
        ],
        rows,
    )
    notes = []
    if sat is not None:
        notes.append(
            f"Saturation at {mode} {sat['level']:g}: {sat['throughput']:.1f} {unit} "
            f"(best {sat['best_throughput']:.1f}); rule: {escape(sat['rule'])}."
            + ("" if sat["reached"] else " Not reached: the highest level still gained; go higher.")
        )
    if sweep.get("best_goodput"):
        best = sweep["best_goodput"]
        notes.append(f"Best goodput {best['goodput_per_s']:.2f} req/s at {mode} {best['level']:g}.")
    if sweep.get("run", {}).get("slo"):
        high = sweep.get("highest_level_meeting_slo")
        notes.append(
            f"Highest {mode} meeting the SLO: {high:g}." if high else "No level met the SLO."
        )
    figures = "".join(f"<figure>{chart}</figure>" for chart in charts)
    run = sweep.get("run", {})
    meta = " · ".join(
        escape(f"{label} {run[key]}")
        for key, label in (
            ("url", "target"),
            ("model", "model"),
            ("api", "api"),
            ("duration_s", "seconds per level"),
            ("slo", "SLO"),
        )
        if run.get(key)
    )
    return (
        f'<section class="oh-load"><style>{STYLE}</style><h2>{escape(title)}</h2>'
        f'<p class="oh-meta">{meta}</p>'
        f"<p>{' '.join(notes)}</p>{table}"
        f'<div class="oh-charts">{figures}</div></section>'
    )


def render_page(title: str, *fragments: str) -> str:
    """A whole HTML document around fragments, with the self-check footer."""
    body = "".join(fragments)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{margin:16px 24px;font-family:system-ui,sans-serif}"
        "#oh-check{color:#666;font-size:12px;margin-top:24px}</style>"
        f"<script>{ERROR_SCRIPT}</script></head><body>"
        f'{body}<p id="oh-check" data-charts="" data-drawn="" data-errors="">'
        "chart check did not run (scripts disabled?)</p>"
        f"<script>{PAGE_SCRIPT}</script></body></html>"
    )


def render_load_html(summary: dict[str, Any], title: str = "Load test") -> str:
    return render_page(title, render_load_fragment(summary, title))


def render_sweep_html(sweep: dict[str, Any], title: str = "Load sweep") -> str:
    return render_page(title, render_sweep_fragment(sweep, title))
