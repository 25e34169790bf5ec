"""What the HTML report shows, computed from a run's results (pure: no I/O, no markup).

One ``BenchView`` per measurement: its summary numbers, its verdict, the baseline and current
distributions as box-plot statistics with a bounded number of raw points, its history trend with
change points, and links to its profiles. ``Detail`` thins the page as the number of benchmarks
grows so 2,000 of them still make a file of a few megabytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.extra_keys import EXPLANATION, HEALTH, PASSED, VERDICT
from pytest_causal_eval.history.changepoints import ChangePoint, detect_change_points
from pytest_causal_eval.history.records import SeriesPoint
from pytest_causal_eval.report.attention import MetricLine, metric_lines
from pytest_causal_eval.report.svg import Box
from pytest_causal_eval.results import Measurement, Metric, Verdict
from pytest_causal_eval.stats.summary import percentile, summarize

__all__ = [
    "MEMORY_METRICS",
    "BenchView",
    "Detail",
    "Trend",
    "bench_views",
    "box_from_samples",
    "box_from_summary",
    "change_size",
    "detail_for",
    "thin",
]

MEMORY_METRICS = ("peak_rss", "mem_peak", "python_peak", "gpu_peak_allocated")
FEATURED = ("regressed", "inconclusive", "improved")


@dataclass(frozen=True)
class Detail:
    """How much to draw per benchmark."""

    max_points: int  # raw points overlaid on each box
    trend_markers: bool  # a hoverable dot per run (else only the last)
    open_all: bool  # expand every benchmark's section (else only the featured ones)
    trend_runs: int = 50


def detail_for(count: int) -> Detail:
    if count <= 50:
        return Detail(max_points=40, trend_markers=True, open_all=True)
    if count <= 300:
        return Detail(max_points=15, trend_markers=True, open_all=False)
    return Detail(max_points=0, trend_markers=False, open_all=False, trend_runs=12)


@dataclass(frozen=True)
class Trend:
    points: list[SeriesPoint]
    steps: list[ChangePoint]


@dataclass(frozen=True)
class BenchView:
    id: str
    anchor: str
    verdict: str  # "" when the run was not judged (saving, no baseline file)
    verdict_metric: str = ""
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    threshold: str = ""
    message: str = ""
    noisy: bool = False
    passed: bool = True
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    n: int = 0
    cv: float | None = None
    throughput: tuple[float, str] | None = None  # (value, unit)
    accuracy: Metric | None = None
    memory: Metric | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)
    current: Box | None = None
    baseline: Box | None = None
    trend: Trend | None = None
    profiles: list[tuple[str, str]] = field(default_factory=list)  # (kind, href)
    baseline_profiles: list[tuple[str, str]] = field(default_factory=list)  # (kind, href)
    lines: list[MetricLine] = field(default_factory=list)  # gated metrics that did not pass
    explanation: list[str] = field(default_factory=list)  # why: hotspot and allocation-site diffs
    this_run: int | None = None  # the run id of this run in the history (marked on the trend)
    extra_info: dict[str, Any] = field(default_factory=dict)  # causal_bench.extra_info

    @property
    def points(self) -> bool:
        return self.threshold.endswith("pts")

    @property
    def featured(self) -> bool:
        return self.verdict in FEATURED


def thin(values: Sequence[float], limit: int) -> tuple[float, ...]:
    """At most ``limit`` values, evenly spaced through the sorted sample (keeps its shape)."""
    if limit <= 0 or not values:
        return ()
    data = sorted(values)
    if len(data) <= limit:
        return tuple(data)
    if limit == 1:
        return (data[len(data) // 2],)
    return tuple(data[round(i * (len(data) - 1) / (limit - 1))] for i in range(limit))


def box_from_samples(label: str, values: Sequence[float], max_points: int, css: str) -> Box | None:
    """Quartiles and Tukey whiskers (the furthest points within 1.5 IQR of the box).

    Values that are not finite numbers are left out (and counted in ``dropped``); None when no
    finite value is left."""
    data = sorted(v for v in values if math.isfinite(v))
    if not data:
        return None
    q1, median, q3 = percentile(data, 25.0), percentile(data, 50.0), percentile(data, 75.0)
    iqr = q3 - q1
    lo = min((v for v in data if v >= q1 - 1.5 * iqr), default=data[0])
    hi = max((v for v in data if v <= q3 + 1.5 * iqr), default=data[-1])
    return Box(label, q1, median, q3, lo, hi, len(data), thin(data, max_points), css, len(values) - len(data))


def box_from_summary(label: str, summary: Mapping[str, Any], css: str) -> Box | None:
    """A box from stored summary numbers only (whiskers at min/max); None when they are missing."""
    try:
        median = float(summary["median"])
        q1 = float(summary.get("q1", median))
        q3 = float(summary.get("q3", median))
        lo = float(summary.get("min", q1))
        hi = float(summary.get("max", q3))
        n = int(summary.get("n", 0))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(v) for v in (median, q1, q3, lo, hi)):
        return None
    return Box(label, q1, median, q3, lo, hi, n, (), css)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _baseline_box(entry: Mapping[str, Any] | None, max_points: int) -> Box | None:
    if not isinstance(entry, Mapping):
        return None
    time_block = entry.get("time")
    if not isinstance(time_block, Mapping):
        return None
    raw = time_block.get("samples")
    samples = (
        [float(v) for v in raw if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if isinstance(raw, list)
        else []
    )
    if sum(1 for v in samples if math.isfinite(v)) >= 2:
        return box_from_samples("baseline", samples, max_points, "base")
    summary = time_block.get("summary")
    return box_from_summary("baseline", summary, "base") if isinstance(summary, Mapping) else None


def _trend(points: Sequence[SeriesPoint] | None, runs: int) -> Trend | None:
    if not points:
        return None
    recent = list(points)[-runs:]
    return Trend(points=recent, steps=detect_change_points([p.median for p in recent]))


def bench_view(
    m: Measurement,
    index: int,
    detail: Detail,
    baseline_entry: Mapping[str, Any] | None = None,
    history: Sequence[SeriesPoint] | None = None,
    profiles: Sequence[tuple[str, str]] = (),
    baseline_profiles: Sequence[tuple[str, str]] = (),
    this_run: int | None = None,
) -> BenchView:
    record = VERDICT.get(m) or Verdict(verdict="")
    health = HEALTH.get(m)
    stats = summarize(m.samples) if m.samples else None
    css = {"regressed": "cur bad", "improved": "cur good"}.get(record.verdict, "cur")
    throughput: tuple[float, str] | None = None
    if "throughput" in m.metrics:
        throughput = (m.metrics["throughput"].value, m.metrics["throughput"].unit or "/s")
    elif stats is not None and stats.ops > 0:
        throughput = (stats.ops, "/s")
    memory = next((m.metrics[name] for name in MEMORY_METRICS if name in m.metrics), None)
    return BenchView(
        id=m.id,
        anchor=f"b{index}",
        verdict=record.verdict,
        verdict_metric=record.metric or "",
        change=record.change,
        ci_low=record.ci_low,
        ci_high=record.ci_high,
        threshold=record.threshold or "",
        message=record.message,
        noisy=health is not None and health.noisy,
        passed=PASSED.get(m) is not False,
        median=stats.median if stats else None,
        q1=stats.q1 if stats else None,
        q3=stats.q3 if stats else None,
        n=stats.n if stats else 0,
        cv=stats.cv if stats else None,
        throughput=throughput,
        accuracy=m.metrics.get("accuracy"),
        memory=memory,
        metrics=dict(m.metrics),
        current=box_from_samples("current", m.samples, detail.max_points, css) if m.samples else None,
        baseline=_baseline_box(baseline_entry, detail.max_points),
        trend=_trend(history, detail.trend_runs),
        profiles=list(profiles),
        baseline_profiles=list(baseline_profiles),
        lines=metric_lines(record),
        explanation=_explanation(EXPLANATION.get(m)),
        this_run=this_run,
        extra_info=dict(m.extra_info),
    )


def _explanation(block: Any) -> list[str]:
    if not isinstance(block, Mapping):
        return []
    lines: list[str] = []
    for metric, text in block.items():
        if isinstance(text, list) and text:
            lines.append(f"{metric}:")
            lines.extend("  " + str(line) for line in text)
    return lines


def change_size(m: Measurement) -> float:
    """How far a measurement moved against its baseline (the headline's relative change; 0 unknown)."""
    record = VERDICT.get(m)
    change = record.change if record is not None else None
    return abs(change) if change is not None and math.isfinite(change) else 0.0


def bench_views(
    measurements: Sequence[Measurement],
    baseline_entries: Mapping[str, Mapping[str, Any]],
    history: Mapping[str, Sequence[SeriesPoint]],
    profiles: Mapping[str, Sequence[tuple[str, str]]],
    detail: Detail | None = None,
    baseline_profiles: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    this_run: int | None = None,
) -> list[BenchView]:
    """Views by size of change (biggest first), then id; ``detail`` defaults to what suits the number
    of measurements."""
    detail = detail or detail_for(len(measurements))
    ordered = sorted(measurements, key=lambda m: (-change_size(m), m.id))
    base = baseline_profiles or {}
    return [
        bench_view(
            m,
            i,
            detail,
            baseline_entries.get(m.id),
            history.get(m.id),
            profiles.get(m.id, ()),
            base.get(m.id, ()),
            this_run,
        )
        for i, m in enumerate(ordered)
    ]
