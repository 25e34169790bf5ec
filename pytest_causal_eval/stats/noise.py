"""How noisy one measurement is, and the smallest change it could detect (pure, no I/O).

The minimum detectable change (MDC) is the true change a comparison against an equally noisy
baseline would flag with 80% power at 95% confidence. It uses the same ingredients as the gate
(``stats.compare``): the standard error of a median, an effective sample size shrunk by the lag-1
autocorrelation of the rounds, and the between-process reproducibility floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

from pytest_causal_eval.stats.compare import DEFAULT_FLOOR, NORMAL_MEDIAN_SE, Z95

__all__ = ["NoiseProfile", "lag1_autocorrelation", "noise_profile"]

Z80 = 0.8416212335729143


@dataclass(frozen=True)
class NoiseProfile:
    """``cv``: robust coefficient of variation (IQR/1.349 over the median); ``mdc``: a fraction."""

    n: int
    cv: float
    autocorr: float
    n_effective: float
    mdc: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: object) -> NoiseProfile | None:
        """The profile a ``to_dict`` stored; None unless ``data`` holds its five numbers."""
        if not isinstance(data, Mapping):
            return None
        values = [data.get(f.name) for f in fields(cls)]
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len(values):
            return None
        n, cv, autocorr, n_effective, mdc = numbers
        return cls(n=int(n), cv=cv, autocorr=autocorr, n_effective=n_effective, mdc=mdc)


def lag1_autocorrelation(values: Sequence[float]) -> float:
    """Lag-1 autocorrelation of a series (0 for fewer than 3 values or a constant series)."""
    n = len(values)
    if n < 3:
        return 0.0
    mean = math.fsum(values) / n
    dev = [v - mean for v in values]
    denom = math.fsum(d * d for d in dev)
    if denom <= 0:
        return 0.0
    return math.fsum(dev[i] * dev[i + 1] for i in range(n - 1)) / denom


def noise_profile(samples: Sequence[float], floor: float = DEFAULT_FLOOR) -> NoiseProfile:
    """Noise of one sample of positive values (timings). Raises ValueError on an empty sample."""
    n = len(samples)
    if n == 0:
        raise ValueError("noise of an empty sample")
    ordered = sorted(samples)
    median = _quantile(ordered, 0.5)
    iqr = _quantile(ordered, 0.75) - _quantile(ordered, 0.25)
    cv = (iqr / 1.3489795003921634) / median if median > 0 else 0.0
    rho = max(0.0, min(0.95, lag1_autocorrelation(samples)))
    n_eff = max(1.0, n * (1.0 - rho) / (1.0 + rho))
    se_median = NORMAL_MEDIAN_SE * cv / math.sqrt(n_eff)
    # Two equally noisy sides plus the floor on each side of the difference.
    se_diff = math.sqrt(2.0 * se_median**2 + floor**2)
    mdc = math.expm1((Z95 + Z80) * se_diff)
    return NoiseProfile(n=n, cv=cv, autocorr=rho, n_effective=n_eff, mdc=mdc)


def _quantile(ordered: Sequence[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
