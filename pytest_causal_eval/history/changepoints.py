"""Where did a benchmark step? Change points in a series of medians (pure).

The series is taken on a log scale (a step is a ratio) and segmented into runs of constant mean by
penalized least squares, solved exactly with PELT-style pruning (Killick et al. 2012): minimize
``sum of segment costs + penalty x number of segments``, where a segment's cost is its sum of squared
deviations from its mean. The penalty scales with the noise, estimated robustly from the median
absolute successive difference (a step moves one difference only), floored so that a perfectly
quiet series does not turn every wiggle into a step. Adjacent segments whose levels differ by less
than ``min_change`` are merged: a statistically clear but practically irrelevant shift is no step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ChangePoint", "detect_change_points", "noise_sigma"]


@dataclass(frozen=True)
class ChangePoint:
    """The series stepped at ``index`` (the first value of the new level)."""

    index: int
    before: float
    after: float

    @property
    def change(self) -> float:
        """Relative change of the level: +0.25 is 25% higher."""
        return self.after / self.before - 1.0 if self.before else math.inf


def _median(values: Sequence[float]) -> float:
    data = sorted(values)
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else 0.5 * (data[mid - 1] + data[mid])


def noise_sigma(logs: Sequence[float]) -> float:
    """Robust standard deviation of the noise around a piecewise-constant level."""
    if len(logs) < 3:
        return 0.0
    diffs = [abs(b - a) for a, b in itertools.pairwise(logs)]
    # for Gaussian noise, |x_i+1 - x_i| has median 0.6745 * sqrt(2) * sigma
    return _median(diffs) / (0.6745 * math.sqrt(2.0))


def _segment_bounds(logs: Sequence[float], penalty: float, min_size: int) -> list[int]:
    """Start indices of the optimal segments after the first (PELT with pruning)."""
    n = len(logs)
    s1 = [0.0] * (n + 1)
    s2 = [0.0] * (n + 1)
    for i, x in enumerate(logs):
        s1[i + 1] = s1[i] + x
        s2[i + 1] = s2[i] + x * x

    def cost(a: int, b: int) -> float:
        total = s1[b] - s1[a]
        return max(0.0, (s2[b] - s2[a]) - total * total / (b - a))

    best = [math.inf] * (n + 1)
    best[0] = -penalty
    last = [0] * (n + 1)
    candidates = [0]
    for t in range(min_size, n + 1):
        scores = [(best[s] + cost(s, t) + penalty, s) for s in candidates if t - s >= min_size]
        if scores:
            best[t], last[t] = min(scores)
        # PELT pruning: a start that is already worse by more than the penalty never wins later
        candidates = [s for s in candidates if t - s < min_size or best[s] + cost(s, t) <= best[t]]
        if t + 1 - min_size >= 0 and best[t + 1 - min_size] < math.inf:
            candidates.append(t + 1 - min_size)
        candidates = sorted(set(candidates))
    bounds: list[int] = []
    t = n
    while t > 0:
        s = last[t]
        if s > 0:
            bounds.append(s)
        t = s
    return sorted(bounds)


def _levels(logs: Sequence[float], bounds: Sequence[int]) -> list[float]:
    edges = [0, *bounds, len(logs)]
    return [math.fsum(logs[a:b]) / (b - a) for a, b in itertools.pairwise(edges)]


def detect_change_points(
    values: Sequence[float],
    min_change: float = 0.05,
    noise_floor: float = 0.01,
    min_size: int = 2,
    penalty_factor: float = 3.0,
) -> list[ChangePoint]:
    """Steps in a series of positive values (e.g. a benchmark's median per run), oldest first.

    ``min_change``: smallest relative step worth naming (0.05 = 5%). ``noise_floor``: the least
    noise (relative) assumed. ``min_size``: fewest runs on each side of a step.
    Non-positive values make the series unusable on a log scale: no change points.
    """
    if len(values) < 2 * min_size or any(not (v > 0 and math.isfinite(v)) for v in values):
        return []
    logs = [math.log(v) for v in values]
    sigma = max(noise_sigma(logs), noise_floor)
    penalty = penalty_factor * sigma * sigma * math.log(len(logs))
    bounds = _segment_bounds(logs, penalty, min_size)
    threshold = math.log1p(min_change)
    while bounds:
        levels = _levels(logs, bounds)
        gaps = [abs(levels[i + 1] - levels[i]) for i in range(len(bounds))]
        smallest = min(range(len(gaps)), key=gaps.__getitem__)
        if gaps[smallest] >= threshold:
            break
        bounds = bounds[:smallest] + bounds[smallest + 1 :]
    levels = _levels(logs, bounds)
    return [
        ChangePoint(index=b, before=math.exp(levels[i]), after=math.exp(levels[i + 1]))
        for i, b in enumerate(bounds)
    ]
