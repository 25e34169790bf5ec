"""Terminal rendering of history series: sparklines, last values and named steps (pure)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from pytest_causal_eval.history.changepoints import ChangePoint, detect_change_points
from pytest_causal_eval.history.records import SeriesPoint

__all__ = ["MIN_RUNS_FOR_STEP", "SPARK_CHARS", "describe_step", "render_trends", "sparkline"]

#: detect_change_points needs two runs on each side of a step
MIN_RUNS_FOR_STEP = 4

SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, scaled between the series' finite minimum and maximum; a value that
    is not a finite number is a space."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    lo, hi = min(finite), max(finite)
    if hi <= lo:
        return "".join(SPARK_CHARS[3] if math.isfinite(v) else " " for v in values)
    top = len(SPARK_CHARS) - 1
    return "".join(
        SPARK_CHARS[round((v - lo) / (hi - lo) * top)] if math.isfinite(v) else " " for v in values
    )


def describe_step(step: ChangePoint, points: Sequence[SeriesPoint], fmt: Callable[[float], str]) -> str:
    """'stepped +23.4% (1.00 ms -> 1.23 ms) at 3f2a9c1b on main, run 17 (2024-05-01)'.

    A step measured with uncommitted changes says so (``3f2a9c1b+dirty``: the commit is not what
    changed); one whose first runs were measured on a noisy machine is marked as possibly load."""
    point = points[step.index]
    where = f"at {point.short_commit}" if point.commit else "at an unknown commit"
    if point.dirty:
        where += " (uncommitted changes)"
    if point.branch:
        where += f" on {point.branch}"
    date = point.created[:10] if point.created else "?"
    text = (
        f"stepped {step.change:+.1%} ({fmt(step.before)} -> {fmt(step.after)}) {where}, "
        f"run {point.run_id} ({date})"
    )
    if any(p.noisy for p in points[step.index : step.index + 2]):
        text += "; the machine was noisy in that run: maybe load, not code"
    return text


def render_trends(
    series: Mapping[tuple[str, str], Sequence[SeriesPoint]],
    fmt: Callable[[float], str],
    last: int = 5,
) -> list[str]:
    """Lines for ``causal-eval history``: per benchmark a sparkline, the last values and its steps."""
    lines: list[str] = []
    machines = sorted({machine for machine, _ in series})
    for machine in machines:
        if len(machines) > 1:
            lines.append(f"machine {machine}:")
        for (key, benchmark), points in sorted(series.items()):
            if key != machine or not points:
                continue
            medians = [p.median for p in points]
            lines.append(benchmark)
            if len(points) < MIN_RUNS_FOR_STEP:  # a sparkline of 1-3 points says nothing
                values = ", ".join(fmt(p.median) + (" (noisy)" if p.noisy else "") for p in points)
                lines.append(f"  {len(points)} run(s): {values} (a step needs {MIN_RUNS_FOR_STEP} runs)")
                continue
            recent = ", ".join(fmt(v) for v in medians[-last:])
            lines.append(f"  {sparkline(medians)}  {len(points)} run(s); last: {recent}")
            steps = detect_change_points(medians)
            lines.extend("  " + describe_step(step, points, fmt) for step in steps)
    return lines
