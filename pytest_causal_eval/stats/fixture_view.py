"""``causal_bench.stats``: a measurement's statistics in pytest-benchmark's shape.

pytest-benchmark users read ``benchmark.stats["mean"]`` and ``benchmark.stats.stats.median`` after
the call; both spellings work here on the same numbers the reports show (seconds per iteration).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pytest_causal_eval.stats.summary import summarize

__all__ = ["BenchStats", "FixtureStats", "fixture_stats"]

#: The fields pytest-benchmark's ``Stats`` has, in its order.
FIELDS: tuple[str, ...] = (
    "min",
    "max",
    "mean",
    "stddev",
    "rounds",
    "median",
    "iqr",
    "q1",
    "q3",
    "iqr_outliers",
    "stddev_outliers",
    "outliers",
    "ld15iqr",
    "hd15iqr",
    "ops",
    "total",
)


@dataclass(frozen=True)
class BenchStats:
    """pytest-benchmark's ``Stats``: one number per field, plus the per-iteration samples as ``data``."""

    min: float
    max: float
    mean: float
    stddev: float
    rounds: int
    median: float
    iqr: float
    q1: float
    q3: float
    iqr_outliers: int
    stddev_outliers: int
    outliers: str
    ld15iqr: float
    hd15iqr: float
    ops: float
    total: float
    data: tuple[float, ...]

    def as_dict(self) -> dict[str, float | int | str]:
        return {name: getattr(self, name) for name in FIELDS}


class FixtureStats(Mapping[str, "float | int | str"]):
    """pytest-benchmark's ``Metadata``: ``stats["mean"]`` is ``stats.stats.mean``."""

    def __init__(self, stats: BenchStats, name: str, fullname: str, group: str | None) -> None:
        self.stats = stats
        self.name = name
        self.fullname = fullname
        self.group = group

    def __getitem__(self, key: str) -> float | int | str:
        if key not in FIELDS:
            raise KeyError(f"causal_bench.stats has no {key!r}; the keys are {', '.join(FIELDS)}")
        value: float | int | str = getattr(self.stats, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(FIELDS)

    def __len__(self) -> int:
        return len(FIELDS)

    def __repr__(self) -> str:
        return f"FixtureStats({self.fullname!r}, median={self.stats.median!r}, rounds={self.stats.rounds})"


def fixture_stats(samples: Sequence[float]) -> BenchStats:
    """pytest-benchmark's statistics of per-iteration times (a non-empty sample).

    Quartiles and the rest come from ``summarize`` (the numbers the reports show); the outlier
    counts use pytest-benchmark's definitions: beyond 1.5 IQR of the quartiles, and beyond one
    standard deviation of the mean.
    """
    summary = summarize(samples)
    data = tuple(float(v) for v in samples)
    low_fence = summary.q1 - 1.5 * summary.iqr
    high_fence = summary.q3 + 1.5 * summary.iqr
    inside = [v for v in data if low_fence <= v <= high_fence]
    iqr_outliers = len(data) - len(inside)
    stddev_outliers = sum(1 for v in data if abs(v - summary.mean) > summary.stddev)
    return BenchStats(
        min=summary.min,
        max=summary.max,
        mean=summary.mean,
        stddev=summary.stddev,
        rounds=summary.n,
        median=summary.median,
        iqr=summary.iqr,
        q1=summary.q1,
        q3=summary.q3,
        iqr_outliers=iqr_outliers,
        stddev_outliers=stddev_outliers,
        outliers=f"{stddev_outliers};{iqr_outliers}",
        ld15iqr=min(inside) if inside else summary.min,
        hd15iqr=max(inside) if inside else summary.max,
        ops=summary.ops,
        total=math.fsum(data),
        data=data,
    )
