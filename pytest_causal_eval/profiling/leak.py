"""The leak check: run the workload k times and fit the memory kept per call (tracemalloc, untimed)."""

from __future__ import annotations

import array
import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.profiling.fit import growth_per_iteration
from pytest_causal_eval.profiling.memory import own_filters, tracemalloc_sites
from pytest_causal_eval.profiling.sites import AllocationSite

__all__ = ["LeakCheck", "check_leak"]

MIN_ITERATIONS = 5
MAX_ITERATIONS = 30
BUDGET_SECONDS = 0.3


@dataclass
class LeakCheck:
    """``per_iteration``: least-squares slope of retained bytes over calls. ``sites`` grew over the calls."""

    per_iteration: float
    retained: list[int]
    iterations: int
    sites: list[AllocationSite]


def check_leak(
    workload: Callable[[], Any],
    roots: Sequence[str],
    exclude: Sequence[str] = (),
    min_iterations: int = MIN_ITERATIONS,
    max_iterations: int = MAX_ITERATIONS,
    budget_seconds: float = BUDGET_SECONDS,
) -> LeakCheck:
    """One warm call, then ``min_iterations`` to ``max_iterations`` calls (until the budget is spent), each
    followed by ``gc.collect()`` and a reading of the memory still allocated."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(1)
    # Preallocated so that recording a reading allocates nothing traced.
    readings = array.array("q", [0] * (max_iterations + 1))
    n = 0
    try:
        workload()  # first-call caches (lazy imports, memoisation) are not a leak
        gc.collect()
        before = tracemalloc.take_snapshot()
        readings[0] = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        while n < max_iterations:
            workload()
            gc.collect()
            n += 1
            readings[n] = tracemalloc.get_traced_memory()[0]
            if n >= min_iterations and time.perf_counter() - start >= budget_seconds:
                break
        after = tracemalloc.take_snapshot()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    retained = list(readings[: n + 1])
    filters = [*own_filters(), tracemalloc.Filter(False, __file__)]
    stats = after.filter_traces(filters).compare_to(before.filter_traces(filters), "lineno")
    return LeakCheck(
        per_iteration=growth_per_iteration(retained),
        retained=retained,
        iterations=n,
        sites=tracemalloc_sites(stats, roots, exclude),
    )
