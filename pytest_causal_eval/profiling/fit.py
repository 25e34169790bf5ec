"""Least-squares growth per iteration (pure)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["growth_per_iteration"]


def growth_per_iteration(retained: Sequence[float]) -> float:
    """Slope of the least-squares line through ``(i, retained[i])``: bytes kept per call. 0 for < 2 points."""
    n = len(retained)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2.0
    mean_y = sum(retained) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(retained))
    return sxy / sxx
