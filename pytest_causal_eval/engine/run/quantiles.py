"""Fixed-memory latency summaries: exact count/mean/min/max plus a seeded reservoir sample."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["LatencyStats", "LatencySummary"]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p90: float
    p99: float
    p95: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_s": self.mean,
            "min_s": self.min,
            "max_s": self.max,
            "p50_s": self.p50,
            "p90_s": self.p90,
            "p95_s": self.p95,
            "p99_s": self.p99,
        }


class LatencyStats:
    """Streaming latency statistics in bounded memory (reservoir sampling, Algorithm R).

    Percentiles are exact while fewer than ``capacity`` values have been added, then estimated
    from a uniform sample of ``capacity`` values.
    """

    __slots__ = ("_rng", "capacity", "count", "max", "min", "reservoir", "total")

    def __init__(self, capacity: int = 4096, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._rng = random.Random(seed)
        self.reservoir: list[float] = []
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float, times: int = 1) -> None:
        """Record ``value`` (``times`` times, e.g. once per question of a batch)."""
        for _ in range(times):
            self.count += 1
            self.total += value
            if value < self.min:
                self.min = value
            if value > self.max:
                self.max = value
            if len(self.reservoir) < self.capacity:
                self.reservoir.append(value)
            else:
                j = self._rng.randrange(self.count)
                if j < self.capacity:
                    self.reservoir[j] = value

    def quantile(self, q: float) -> float:
        if not self.reservoir:
            return 0.0
        data = sorted(self.reservoir)
        pos = q * (len(data) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(data) - 1)
        return data[lo] + (data[hi] - data[lo]) * (pos - lo)

    def summary(self) -> LatencySummary:
        if self.count == 0:
            return LatencySummary(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        data = sorted(self.reservoir)

        def q(p: float) -> float:
            pos = p * (len(data) - 1)
            lo = math.floor(pos)
            hi = min(lo + 1, len(data) - 1)
            return data[lo] + (data[hi] - data[lo]) * (pos - lo)

        return LatencySummary(
            self.count, self.total / self.count, self.min, self.max, q(0.5), q(0.9), q(0.99), q(0.95)
        )
