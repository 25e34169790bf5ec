"""How the gate judges memory metrics (pure): a relative and an absolute tolerance, so a few bytes more
is never a regression. The baseline gate imports this."""

from __future__ import annotations

__all__ = ["MEMORY_ABS_TOLERANCE", "MEMORY_METRICS", "memory_comparable"]

# Below these absolute differences a memory metric has not changed, whatever the ratio says.
MEMORY_ABS_TOLERANCE: dict[str, float] = {
    "mem_peak": 64 * 1024.0,  # B: allocator arenas and freelists move peaks by tens of KiB
    "alloc_count": 256.0,  # allocations
    "leak_per_iter": 256.0,  # B per call: interpreter caches and dict resizes in the fit
    "python_peak": 64 * 1024.0,  # B (core's --causal-eval-tracemalloc)
    "peak_rss": 4 * 1024.0 * 1024.0,  # B: page granularity, allocator returns
    "rss_growth": 4 * 1024.0 * 1024.0,  # B: the same, for the growth over the RSS at the start
}

MEMORY_METRICS: frozenset[str] = frozenset(MEMORY_ABS_TOLERANCE)


def memory_comparable(current_backend: object, baseline_backend: object) -> bool:
    """Memory metrics of two runs compare only when measured by the same backend (memray vs tracemalloc)."""
    return current_backend is not None and current_backend == baseline_backend
