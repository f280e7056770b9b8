"""Charts as inline SVG, drawn in Python: the report opens with no network and no JS library.

Every chart is an ``<svg class="oh-chart">`` with axes, gridlines, a legend and
``<title>`` tooltips on its points; a chart with nothing to draw says so in
words instead of showing empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 600
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 20
MARGIN_TOP = 34
MARGIN_BOTTOM = 46
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = ""
    dashed: bool = False
    axis: str = "left"  # left | right


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) if low else 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


class _Frame:
    """Maps data coordinates onto the plot area."""

    def __init__(self, x_ticks: list[float], y_ticks: list[float], width: int, height: int):
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        self.y0, self.y1 = y_ticks[0], y_ticks[-1]
        self.left = MARGIN_LEFT
        self.right = width - MARGIN_RIGHT
        self.top = MARGIN_TOP
        self.bottom = height - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.right - self.left)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (value - self.y0) / span * (self.bottom - self.top)


def _open(title: str, kind: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="oh-chart" data-kind="{kind}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="oh-title" x="{MARGIN_LEFT}" y="20">{escape(title)}</text>',
    ]


def _empty(title: str, kind: str, why: str) -> str:
    parts = _open(title, kind, WIDTH, 90)
    parts.append(f'<text class="oh-empty" x="{MARGIN_LEFT}" y="56">{escape(why)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(
    frame: _Frame,
    *,
    x_ticks: list[float],
    y_ticks: list[float],
    x_label: str,
    y_label: str,
    width: int,
    height: int,
) -> list[str]:
    out = ['<g class="oh-axes">']
    for tick in y_ticks:
        y = frame.y(tick)
        out.append(
            f'<line class="oh-grid" x1="{frame.left}" x2="{frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="oh-tick" x="{frame.left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_fmt(tick)}</text>'
        )
    for tick in x_ticks:
        x = frame.x(tick)
        out.append(
            f'<text class="oh-tick" x="{x:.1f}" y="{frame.bottom + 16}" '
            f'text-anchor="middle">{_fmt(tick)}</text>'
        )
    out.append(
        f'<line class="oh-axis" x1="{frame.left}" x2="{frame.right}" '
        f'y1="{frame.bottom}" y2="{frame.bottom}"/>'
    )
    out.append(
        f'<line class="oh-axis" x1="{frame.left}" x2="{frame.left}" '
        f'y1="{frame.top}" y2="{frame.bottom}"/>'
    )
    out.append(
        f'<text class="oh-label" x="{(frame.left + frame.right) / 2:.0f}" y="{height - 8}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    mid = (frame.top + frame.bottom) / 2
    out.append(
        f'<text class="oh-label" transform="translate(14,{mid:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _marker_label(label: str, x: float, y: float, frame: _Frame) -> str:
    """Beside the marker, on whichever side has room for it."""
    if x > (frame.left + frame.right) / 2:
        return (
            f'<text class="oh-tick oh-marker-label" x="{x - 14:.1f}" y="{y:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    return (
        f'<text class="oh-tick oh-marker-label" x="{x + 14:.1f}" y="{y:.1f}">{escape(label)}</text>'
    )


def _legend(series: Sequence[Series], width: int) -> list[str]:
    out = ['<g class="oh-legend">']
    x = width - MARGIN_RIGHT
    for s in reversed(series):
        label = escape(s.name)
        x -= 14 + 7 * len(s.name)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(
            f'<line x1="{x}" x2="{x + 10}" y1="16" y2="16" stroke="{s.color}" '
            f'stroke-width="2.5"{dash}/>'
        )
        out.append(f'<text class="oh-tick" x="{x + 13}" y="20">{label}</text>')
    out.append("</g>")
    return out


def _colored(series: Sequence[Series]) -> list[Series]:
    return [
        s if s.color else Series(s.name, s.values, PALETTE[i % len(PALETTE)], s.dashed, s.axis)
        for i, s in enumerate(series)
    ]


def line_chart(
    title: str,
    x: Sequence[float],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    *,
    markers: Sequence[Marker] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Lines over a shared x axis; ``None`` values break a line instead of dropping to 0."""
    series = _colored(series)
    points = [v for s in series for v in s.values if v is not None]
    if not x or not points:
        return _empty(title, "line", "no data to draw")
    y_ticks = nice_ticks(min(0.0, *points), max(points + [m.y for m in markers]))
    x_ticks = nice_ticks(min(x), max(x) if max(x) > min(x) else min(x) + 1)
    frame = _Frame(x_ticks, y_ticks, width, height)
    out = _open(title, "line", width, height)
    out += _axes(
        frame,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
    )
    for s in series:
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for xv, yv in zip(x, s.values, strict=False):
            if yv is None:
                runs.append([])
            else:
                runs[-1].append((frame.x(xv), frame.y(yv)))
        for run in runs:
            if len(run) >= 2:
                path = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                out.append(
                    f'<polyline class="oh-line" fill="none" stroke="{s.color}" '
                    f'stroke-width="2"{dash} points="{path}"/>'
                )
        for xv, yv in zip(x, s.values, strict=False):
            if yv is not None:
                out.append(
                    f'<circle class="oh-point" cx="{frame.x(xv):.1f}" cy="{frame.y(yv):.1f}" '
                    f'r="2.6" fill="{s.color}"><title>{escape(s.name)}: {_fmt(yv)} at '
                    f"{_fmt(xv)}</title></circle>"
                )
    for marker in markers:
        mx, my = frame.x(marker.x), frame.y(marker.y)
        out.append(
            f'<g class="oh-marker"><circle cx="{mx:.1f}" cy="{my:.1f}" r="8" fill="none" '
            f'stroke="#111" stroke-width="2"/><line x1="{mx:.1f}" x2="{mx:.1f}" '
            f'y1="{frame.top}" y2="{frame.bottom}" stroke="#111" stroke-dasharray="3 3"/>'
            f"{_marker_label(marker.label, mx, max(frame.top + 12, my - 10), frame)}</g>"
        )
    out += _legend(series, width)
    out.append("</svg>")
    return "\n".join(out)


def histogram_chart(
    title: str,
    edges: Sequence[float],
    counts: Sequence[float],
    x_label: str,
    *,
    y_label: str = "requests",
    color: str = PALETTE[0],
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Bars of a distribution; the last bar holds everything above the 99.5th percentile."""
    if not counts or not any(counts):
        return _empty(title, "histogram", "no samples")
    y_ticks = nice_ticks(0.0, max(counts))
    x_ticks = nice_ticks(edges[0], edges[-1])
    frame = _Frame(x_ticks, y_ticks, width, height)
    out = _open(title, "histogram", width, height)
    out += _axes(
        frame,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
    )
    for i, count in enumerate(counts):
        if not count:
            continue
        x0, x1 = frame.x(edges[i]), frame.x(edges[i + 1])
        y = frame.y(count)
        out.append(
            f'<rect class="oh-bar" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{frame.bottom - y:.1f}" fill="{color}"><title>{_fmt(edges[i])}-'
            f"{_fmt(edges[i + 1])}: {count:.0f}</title></rect>"
        )
    out.append("</svg>")
    return "\n".join(out)


def curve_chart(
    title: str,
    points: Sequence[tuple[float, float, str]],
    x_label: str,
    y_label: str,
    *,
    marker: Marker | None = None,
    extra: Sequence[tuple[str, Sequence[tuple[float, float, str]]]] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Points joined in order (x, y, label): a sweep's throughput-vs-latency curve."""
    curves = [("p50", points), *extra] if extra else [(y_label, points)]
    everything = [p for _, pts in curves for p in pts]
    if not everything:
        return _empty(title, "curve", "no sweep points")
    xs = [p[0] for p in everything]
    ys = [p[1] for p in everything]
    x_ticks = nice_ticks(min(0.0, *xs), max(xs) if max(xs) > 0 else 1.0)
    y_ticks = nice_ticks(min(0.0, *ys), max(ys) if max(ys) > 0 else 1.0)
    frame = _Frame(x_ticks, y_ticks, width, height)
    out = _open(title, "curve", width, height)
    out += _axes(
        frame,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
    )
    legend: list[Series] = []
    for i, (name, pts) in enumerate(curves):
        color = PALETTE[i % len(PALETTE)]
        legend.append(Series(name, [], color))
        if len(pts) >= 2:
            path = " ".join(f"{frame.x(px):.1f},{frame.y(py):.1f}" for px, py, _ in pts)
            out.append(
                f'<polyline class="oh-line" fill="none" stroke="{color}" stroke-width="2" '
                f'points="{path}"/>'
            )
        for px, py, label in pts:
            out.append(
                f'<circle class="oh-point" cx="{frame.x(px):.1f}" cy="{frame.y(py):.1f}" r="4" '
                f'fill="{color}"><title>{escape(label)}: {_fmt(px)}, {_fmt(py)}</title></circle>'
            )
    if marker is not None:
        mx, my = frame.x(marker.x), frame.y(marker.y)
        out.append(
            f'<g class="oh-marker"><circle cx="{mx:.1f}" cy="{my:.1f}" r="10" fill="none" '
            f'stroke="#111" stroke-width="2.5"/>'
            f"{_marker_label(marker.label, mx, max(frame.top + 12, my - 14), frame)}</g>"
        )
    if len(legend) > 1:
        out += _legend(legend, width)
    out.append("</svg>")
    return "\n".join(out)
