"""Comparing a candidate against a baseline: thresholds, intervals and the verdict (pure, no I/O).

The method
----------
A run's rounds are not independent draws: consecutive rounds share caches, clock frequency and
neighbours' load (they are autocorrelated), and two processes measuring the same code differ by a
few percent for reasons no round inside either process can see (memory layout, frequency state,
what else the machine is doing). Both facts break the usual i.i.d. tests: a Mann-Whitney test or a
plain bootstrap over rounds would call a 2% between-process shift "significant" with a thousand
rounds, and a gate built on it cries wolf on every other run.

So the gate works on the **log ratio of a quantile** of each side (candidate / baseline): the median
by default, a fast quantile where the caller asks for one (``GateSettings.quantile``; the time gate
compares the 10th percentile, see ``baseline.gate``), and builds its interval in two parts:

1. *Within-run uncertainty*: a seeded **circular block bootstrap** of each side separately (blocks
   of ``ceil(n ** (1/3))`` consecutive rounds keep the autocorrelation inside a block, so the
   interval is not narrowed by rounds that carry little new information). Each replicate is the
   log of the ratio of the two resampled quantiles; the 2.5 and 97.5 percentiles bound it. A median
   or a lower quantile, never a mean, because timing noise is one-sided (interruptions only ever add
   time).
2. *Between-process uncertainty*: a **reproducibility floor** (default 2%, as a standard deviation on
   the log scale) is added in quadrature to each half-width. It stands for the shift two processes
   show on the same code, which within-run samples cannot estimate. It is what keeps a 0% change in
   a different process from looking significant.

A side with one value and no samples (a peak-RSS reading) contributes only the floor; a baseline
kept as a summary only (imported from pytest-benchmark without raw data) contributes a normal
approximation of its median's standard error (``1.2533 * sigma / sqrt(n)``, sigma from the IQR);
such a side has no other quantile, so both sides are then compared at their medians.

The verdict, with the change expressed in the *worse* direction (``w``; positive = worse) and the
threshold ``T`` translated to the same scale:

- ``regressed``: ``w > T`` (the estimated change is beyond the threshold) **and** the interval's
  lower end is above zero (the change is significant);
- ``improved``: ``w < -T_good`` and the interval's upper end is below zero;
- ``pass``: the interval's upper end is at most ``T`` (a regression beyond the threshold is ruled out);
- ``inconclusive``: anything else (the interval reaches past the threshold but the evidence does not
  convict). The caller re-measures and, if still undecided, reports it instead of guessing.

Relative thresholds work on ratios (``+10%`` slower is a ratio of 1.10, ``10%`` lower throughput a
ratio of 0.90); absolute thresholds (``2pts``) work on the difference of medians, for metrics such as
accuracy where "2 points" is the natural unit and no floor applies.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pytest_causal_eval.stats.thresholds import Threshold, parse_threshold

__all__ = [
    "DEFAULT_FLOOR",
    "TIME_QUANTILE",
    "Comparison",
    "GateSettings",
    "Side",
    "Threshold",
    "Verdict",
    "compare",
    "parse_threshold",
    "quantile_of",
    "seed_for",
]

Verdict = Literal["pass", "regressed", "improved", "inconclusive", "new"]
Better = Literal["lower", "higher"]
FloatArray = npt.NDArray[np.float64]

DEFAULT_FLOOR = 0.02
# The quantile of its rounds the time gate compares (``baseline.gate``): a fast one, not the median.
TIME_QUANTILE = 0.10
Z95 = 1.959963984540054
NORMAL_MEDIAN_SE = 1.2533141373155003  # sqrt(pi / 2): SE of a median relative to sigma/sqrt(n)
IQR_TO_SIGMA = 1.3489795003921634


@dataclass(frozen=True)
class Side:
    """One side of a comparison: raw samples, or a single value, or a summary (center, spread, n)."""

    center: float
    samples: tuple[float, ...] = ()
    iqr: float | None = None
    n: int = 0

    @classmethod
    def of_samples(cls, samples: Sequence[float]) -> Side:
        values = tuple(float(v) for v in samples)
        if not values:
            raise ValueError("a side needs at least one sample")
        return cls(center=float(np.median(np.asarray(values))), samples=values, n=len(values))

    @classmethod
    def of_value(cls, value: float) -> Side:
        return cls(center=float(value), n=1)

    @classmethod
    def of_summary(cls, median: float, iqr: float, n: int) -> Side:
        return cls(center=float(median), iqr=float(iqr), n=int(n))

    @property
    def has_spread(self) -> bool:
        return len(self.samples) >= 3 or (self.iqr is not None and self.n >= 3)


@dataclass(frozen=True)
class GateSettings:
    """Knobs of the method; defaults are what the gate-quality benchmark was tuned with."""

    floor: float = DEFAULT_FLOOR
    floor_note: str = ""  # where a floor above the default came from, shown in the method
    confidence: float = 0.95
    resamples: int = 2000
    max_samples: int = 1000
    # which quantile of each side's samples is its center: 0.5, the median, for every metric but
    # time, whose gate uses a fast quantile (``baseline.gate.TIME_QUANTILE``; see the module text)
    quantile: float = 0.5


@dataclass(frozen=True)
class Comparison:
    """The outcome for one quantity. ``change``, ``ci_low``, ``ci_high`` are fractions for relative
    thresholds (0.218 = +21.8%) and differences in points for absolute ones (see ``parse_threshold``)."""

    verdict: Verdict
    metric: str
    better: Better
    change: float
    ci_low: float
    ci_high: float
    threshold: Threshold
    baseline_center: float
    candidate_center: float
    method: str
    n_baseline: int
    n_candidate: int
    # why the verdict is not what the numbers alone say (a time regression under foreign CPU load)
    reason: str = ""
    # where the baseline's center came from when it is not the last saved session's median
    baseline_note: str = ""
    # which statistic of the two sides is compared: "median", or "p10" for a fast quantile
    statistic: str = "median"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["threshold"] = str(self.threshold)
        return out


def quantile_of(samples: Sequence[float], q: float = TIME_QUANTILE) -> float:
    """The ``q`` quantile of ``samples`` (linear interpolation, as the comparison computes it)."""
    return float(np.quantile(np.asarray(samples, dtype=np.float64), q))


def seed_for(key: str, base: int = 0) -> int:
    """A deterministic seed per compared quantity, so a rerun on the same data gives the same interval."""
    return (zlib.crc32(key.encode("utf-8")) ^ base) & 0xFFFFFFFF


def _even_subsample(values: Sequence[float], limit: int) -> tuple[float, ...]:
    if len(values) <= limit:
        return tuple(values)
    step = len(values) / limit
    return tuple(values[int(i * step)] for i in range(limit))


def _block_quantiles(x: FloatArray, rng: np.random.Generator, resamples: int, q: float) -> FloatArray:
    """The ``q`` quantiles of circular block-bootstrap resamples of ``x`` (one per row)."""
    n = len(x)
    block = max(1, math.ceil(n ** (1.0 / 3.0)))
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(resamples, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    idx = idx.reshape(resamples, blocks * block)[:, :n]
    quantiles: FloatArray = np.quantile(x[idx], q, axis=1)
    return quantiles


def _replicates(
    side: Side, rng: np.random.Generator, settings: GateSettings, log: bool, q: float
) -> FloatArray | None:
    """Bootstrap replicates of the side's center, its ``q`` quantile (log scale when ``log``);
    None: no spread known."""
    if len(side.samples) >= 3:
        x = np.asarray(_even_subsample(side.samples, settings.max_samples), dtype=np.float64)
        if log:
            x = np.log(x)
        return _block_quantiles(x, rng, settings.resamples, q)
    if side.iqr is not None and side.n >= 3:
        sigma = side.iqr / IQR_TO_SIGMA
        se = NORMAL_MEDIAN_SE * sigma / math.sqrt(side.n)
        center = side.center
        if log:
            se = se / center
            center = math.log(center)
        draws: FloatArray = rng.normal(center, se, size=settings.resamples)
        return draws
    return None


def compare(
    baseline: Side,
    candidate: Side,
    *,
    metric: str,
    better: Better,
    threshold: Threshold,
    seed: int = 0,
    settings: GateSettings | None = None,
    unit: str = "",
) -> Comparison:
    """Compare two sides of one quantity and give the verdict (see the module docstring)."""
    cfg = settings or GateSettings()
    if threshold.kind == "off":
        raise ValueError(f"{metric}: a threshold of 'off' means the quantity is not compared")
    relative = threshold.kind == "relative"
    q, statistic = _statistic(baseline, candidate, cfg.quantile)
    if q != 0.5:
        baseline, candidate = _at_quantile(baseline, q), _at_quantile(candidate, q)
    log = relative and baseline.center > 0 and candidate.center > 0 and _positive(baseline, candidate)
    relative_undefined = relative and not log and baseline.center == 0
    rng = np.random.default_rng(seed)
    reps_b = _replicates(baseline, rng, cfg, log, q)
    reps_c = _replicates(candidate, rng, cfg, log, q)
    alpha = 1.0 - cfg.confidence
    z = _z(cfg.confidence)

    if log:
        point = math.log(candidate.center) - math.log(baseline.center)
    else:
        point = candidate.center - baseline.center
    if reps_b is None and reps_c is None:
        half_lo = half_hi = 0.0
        method = "single values"
    else:
        b: FloatArray = reps_b if reps_b is not None else np.full(cfg.resamples, _center(baseline, log))
        c: FloatArray = reps_c if reps_c is not None else np.full(cfg.resamples, _center(candidate, log))
        diffs = c - b
        lo_b, hi_b = np.quantile(diffs, [alpha / 2.0, 1.0 - alpha / 2.0])
        half_lo = max(0.0, point - float(lo_b))
        half_hi = max(0.0, float(hi_b) - point)
        method = f"block bootstrap of the {statistic}" + (" ratio" if log else " difference")
    if log:
        floor = z * cfg.floor
        half_lo = math.hypot(half_lo, floor)
        half_hi = math.hypot(half_hi, floor)
        shown = f"{cfg.floor:.1%}".replace(".0%", "%")
        method += f", {shown} reproducibility floor" + (f" ({cfg.floor_note})" if cfg.floor_note else "")
    lo, hi = point - half_lo, point + half_hi

    # Express everything as "positive = worse" and decide.
    sign = 1.0 if better == "lower" else -1.0
    w, wl, wh = sign * point, min(sign * lo, sign * hi), max(sign * lo, sign * hi)
    if relative_undefined:
        bad, good = math.inf, math.inf
    elif log:
        if better == "lower":
            bad = math.log1p(threshold.value)
            good = -math.log1p(-min(threshold.value, 0.999))
        else:
            bad = -math.log1p(-min(threshold.value, 0.999))
            good = math.log1p(threshold.value)
    elif relative:
        bad = good = threshold.value * abs(baseline.center)
    else:
        points = _points_scale(unit, baseline, candidate)
        bad = good = threshold.value * points
    verdict = _decide(w, wl, wh, bad, good)

    if log:
        change, ci_low, ci_high = _expm1(point), _expm1(lo), _expm1(hi)
    elif relative and not relative_undefined:
        scale = abs(baseline.center)
        change, ci_low, ci_high = point / scale, lo / scale, hi / scale
    else:
        points = _points_scale(unit, baseline, candidate)
        change, ci_low, ci_high = point / points, lo / points, hi / points
    return Comparison(
        verdict=verdict,
        metric=metric,
        better=better,
        change=change,
        ci_low=ci_low,
        ci_high=ci_high,
        threshold=threshold,
        baseline_center=baseline.center,
        candidate_center=candidate.center,
        method=method,
        n_baseline=max(baseline.n, len(baseline.samples)),
        n_candidate=max(candidate.n, len(candidate.samples)),
        statistic=statistic,
    )


def _statistic(baseline: Side, candidate: Side, quantile: float) -> tuple[float, str]:
    """The quantile both sides are compared at, and its name: ``quantile`` when both sides hold
    samples, else the median (a summary or a single value only knows its median)."""
    if quantile == 0.5 or len(baseline.samples) < 3 or len(candidate.samples) < 3:
        return 0.5, "median"
    return quantile, f"p{quantile * 100:g}"


def _at_quantile(side: Side, q: float) -> Side:
    """``side`` with its ``q`` quantile as its center."""
    return Side(center=quantile_of(side.samples, q), samples=side.samples, n=side.n)


def _expm1(x: float) -> float:
    """``exp(x) - 1``, infinite (not an OverflowError) for a ratio beyond a float's range."""
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _decide(w: float, wl: float, wh: float, bad: float, good: float) -> Verdict:
    if w > bad and wl > 0:
        return "regressed"
    if w < -good and wh < 0:
        return "improved"
    if wh <= bad:
        return "pass"
    return "inconclusive"


def _positive(*sides: Side) -> bool:
    return all(all(v > 0 for v in s.samples) for s in sides)


def _center(side: Side, log: bool) -> float:
    return math.log(side.center) if log else side.center


def _points_scale(unit: str, *sides: Side) -> float:
    """One point: a percentage point for a fraction in 0..1 (0.01), else one of the metric's unit."""
    if unit == "%":
        return 1.0
    values = [s.center for s in sides] + [v for s in sides for v in s.samples]
    return 0.01 if all(0.0 <= v <= 1.0 for v in values) else 1.0


def _z(confidence: float) -> float:
    if abs(confidence - 0.95) < 1e-12:
        return Z95
    # Acklam-free inverse normal via math.erf bisection: small and exact enough for a CI multiplier.
    target = 0.5 + confidence / 2.0
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
