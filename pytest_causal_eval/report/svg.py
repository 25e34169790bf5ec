"""Inline SVG plots for the HTML report: baseline-vs-current box plots and trend lines (pure).

Every text that reaches the markup (titles, labels, aria attributes) goes through ``esc``; coordinates
are whole numbers so thousands of plots stay small. Numbers that are not finite (NaN, Infinity from a
hand-edited or damaged baseline) are never drawn: a box or trend point made of them is left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Box", "TrendMark", "box_plot", "esc", "trend_plot"]

WIDTH = 480


def esc(text: object) -> str:
    """Escape for HTML text and double- or single-quoted attributes (inline SVG is parsed as HTML)."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class Box:
    """One distribution: quartiles, whisker ends, size, a thinned set of raw points and its CSS class."""

    label: str
    q1: float
    median: float
    q3: float
    lo: float
    hi: float
    n: int
    points: tuple[float, ...] = ()
    css: str = "cur"
    dropped: int = 0  # values left out of the distribution because they were not finite

    @property
    def drawable(self) -> bool:
        return all(math.isfinite(v) for v in (self.q1, self.median, self.q3, self.lo, self.hi))


@dataclass(frozen=True)
class TrendMark:
    """A vertical marker before point ``index`` (a change point), with its hover text."""

    index: int
    title: str
    css: str = "step"


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    left: float
    right: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        return self.left + (value - self.lo) / span * (self.right - self.left)


def _range(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi <= lo:
        pad = abs(lo) * 0.01 or 1e-12
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def _n(x: float) -> str:
    """Whole units: a 480-wide plot needs no finer positions, and thousands of plots stay small."""
    return str(round(x)) if math.isfinite(x) else "0"


def box_plot(boxes: Sequence[Box], fmt: Callable[[float], str], label: str) -> str:
    """Horizontal box plots sharing one axis, one row per box, with ticks at both ends and the middle.

    A box whose statistics are not all finite is left out."""
    boxes = [b for b in boxes if b.drawable]
    if not boxes:
        return ""
    lo, hi = _range([v for b in boxes for v in (b.lo, b.hi)])  # outliers must not squash the boxes
    x = _Scale(lo, hi, 78.0, WIDTH - 8.0)
    row = 28
    height = 6 + row * len(boxes) + 18
    out = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {height}" role="img"><title>{esc(label)}</title>',
    ]
    for i, b in enumerate(boxes):
        y0 = 6 + i * row
        yc = y0 + 11
        shown = [v for v in b.points if lo <= v <= hi]
        tip = (
            f"{b.label}: median {fmt(b.median)}, IQR {fmt(b.q1)} to {fmt(b.q3)}, "
            f"whiskers {fmt(b.lo)} to {fmt(b.hi)}, n={b.n}"
        )
        if len(shown) < len(b.points):
            tip += f"; {len(b.points) - len(shown)} outlier(s) beyond the axis not drawn"
        if b.dropped:
            tip += f"; {b.dropped} value(s) that are not finite numbers left out"
        out.append(f'<g class="{esc(b.css)}"><title>{esc(tip)}</title>')
        out.append(f'<text class="lbl" x="4" y="{yc + 4}">{esc(b.label)}</text>')
        out.append(
            f'<path class="wh" d="M{_n(x(b.lo))} {yc}H{_n(x(b.q1))}M{_n(x(b.q3))} {yc}H{_n(x(b.hi))}'
            f'M{_n(x(b.lo))} {yc - 5}v10M{_n(x(b.hi))} {yc - 5}v10"/>'
        )
        width = max(1.0, x(b.q3) - x(b.q1))
        out.append(f'<rect class="bx" x="{_n(x(b.q1))}" y="{y0 + 3}" width="{_n(width)}" height="16"/>')
        out.append(f'<path class="md" d="M{_n(x(b.median))} {y0 + 1}v20"/>')
        for k, v in enumerate(shown):
            jitter = ((k * 7) % 9 - 4) * 1.1
            out.append(f'<circle class="pt" cx="{_n(x(v))}" cy="{_n(yc + jitter)}" r="1.6"/>')
        out.append("</g>")
    axis_y = 6 + row * len(boxes) + 12
    mid = (lo + hi) / 2
    out.append(
        f'<g class="ax"><text x="{_n(x(lo))}" y="{axis_y}">{esc(fmt(lo))}</text>'
        f'<text x="{_n(x(mid))}" y="{axis_y}" text-anchor="middle">{esc(fmt(mid))}</text>'
        f'<text x="{_n(x(hi))}" y="{axis_y}" text-anchor="end">{esc(fmt(hi))}</text></g>'
    )
    out.append("</svg>")
    return "".join(out)


def trend_plot(
    values: Sequence[float],
    titles: Sequence[str],
    marks: Sequence[TrendMark],
    fmt: Callable[[float], str],
    label: str,
    markers: bool = True,
    x_labels: tuple[str, str] = ("", ""),
    current: int | None = None,
) -> str:
    """A line over runs (oldest left) above an x-axis labelled at both ends (``x_labels``: the first
    run, this run), dashed lines at steps, a ring on run ``current`` (this run), and (``markers``) a dot
    per run with its hover text. Runs whose value is not finite keep their place on the axis but get
    no point."""
    if not any(math.isfinite(v) for v in values):
        return ""
    height = 108
    axis = height - 22.0
    lo, hi = _range(values)
    x = _Scale(0.0, max(1.0, float(len(values) - 1)), 70.0, WIDTH - 10.0)
    y = _Scale(lo, hi, axis - 6.0, 8.0)
    out = [
        f'<svg class="plot trend" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{esc(label)}">',
        f'<g class="ax"><text x="4" y="{_n(y(hi) + 4)}">{esc(fmt(hi))}</text>'
        f'<text x="4" y="{_n(y(lo))}">{esc(fmt(lo))}</text>'
        f'<path class="xa" d="M70 {_n(axis)}H{WIDTH - 10}"/>'
        + (
            f'<path class="xa" d="{"".join(f"M{_n(x(i))} {_n(axis)}v4" for i in range(len(values)))}"/>'
            if markers
            else ""
        )
        + f'<text class="xl" x="70" y="{height - 4}">{esc(x_labels[0])}</text>'
        f'<text class="xl" x="{WIDTH - 10}" y="{height - 4}" text-anchor="end">{esc(x_labels[1])}</text></g>',
    ]
    for mark in marks:
        if 0 < mark.index < len(values):
            xm = (x(mark.index - 1) + x(mark.index)) / 2
            out.append(
                f'<g class="{esc(mark.css)}"><title>{esc(mark.title)}</title>'
                f'<path d="M{_n(xm)} 4V{_n(axis)}"/><rect x="{_n(xm - 5)}" y="4" width="10" '
                f'height="{_n(axis - 4)}" fill="transparent"/></g>'
            )
    coords = " ".join(f"{_n(x(i))},{_n(y(v))}" for i, v in enumerate(values) if math.isfinite(v))
    out.append(f'<polyline class="ln" points="{coords}"/>')
    for i in range(len(values)) if markers else ():
        if not math.isfinite(values[i]):
            continue
        tip = titles[i] if i < len(titles) else fmt(values[i])
        out.append(
            f'<circle class="pt" cx="{_n(x(i))}" cy="{_n(y(values[i]))}" r="3">'
            f"<title>{esc(tip)}</title></circle>"
        )
    if current is not None and 0 <= current < len(values) and math.isfinite(values[current]):
        out.append(
            f'<circle class="now" cx="{_n(x(current))}" cy="{_n(y(values[current]))}" r="6">'
            f"<title>this run: {esc(fmt(values[current]))}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)
