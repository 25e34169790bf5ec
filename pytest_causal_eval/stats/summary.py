"""Descriptive statistics of one sample of timings (or any metric)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Summary", "percentile", "pooled_log_sd", "summarize"]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear interpolation (numpy's default)."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(sorted_values[lo])
    frac = pos - lo
    return float(sorted_values[lo]) * (1.0 - frac) + float(sorted_values[hi]) * frac


@dataclass(frozen=True)
class Summary:
    """Summary of a sample. Times are in seconds per iteration; ``ops`` is 1/mean."""

    n: int
    min: float
    max: float
    mean: float
    median: float
    stddev: float
    q1: float
    q3: float
    iqr: float
    mad: float
    p95: float
    p99: float
    ops: float
    cv: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        fields = cls.__dataclass_fields__
        missing = [name for name in fields if name not in data]
        if missing:
            raise KeyError(f"summary lacks {', '.join(missing)}")
        return cls(**{name: data[name] for name in fields})


def pooled_log_sd(groups: Iterable[Sequence[float]]) -> tuple[float, int]:
    """The pooled within-group standard deviation of the logs of positive values, and its degrees of
    freedom (0 and 0 when no group has two values): how far repeated measurements of one thing
    (runs of one side, saving sessions of one code) spread apart, on the log scale."""
    squares, df = 0.0, 0
    for values in groups:
        logs = [math.log(v) for v in values if v > 0]
        if len(logs) >= 2:
            mean = sum(logs) / len(logs)
            squares += sum((x - mean) ** 2 for x in logs)
            df += len(logs) - 1
    return (math.sqrt(squares / df), df) if df else (0.0, 0)


def summarize(values: Sequence[float]) -> Summary:
    """Summarize a non-empty sample.

    ``stddev`` is the sample standard deviation (n-1); ``mad`` the median absolute deviation (unscaled);
    ``cv`` the coefficient of variation stddev/mean (0 when the mean is 0).
    """
    n = len(values)
    if n == 0:
        raise ValueError("cannot summarize an empty sample")
    data = sorted(float(v) for v in values)
    mean = math.fsum(data) / n
    var = math.fsum((v - mean) ** 2 for v in data) / (n - 1) if n > 1 else 0.0
    stddev = math.sqrt(var)
    median = percentile(data, 50.0)
    q1 = percentile(data, 25.0)
    q3 = percentile(data, 75.0)
    mad = percentile(sorted(abs(v - median) for v in data), 50.0)
    return Summary(
        n=n,
        min=data[0],
        max=data[-1],
        mean=mean,
        median=median,
        stddev=stddev,
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        mad=mad,
        p95=percentile(data, 95.0),
        p99=percentile(data, 99.0),
        ops=(1.0 / mean) if mean > 0 else 0.0,
        cv=(stddev / mean) if mean > 0 else 0.0,
    )
