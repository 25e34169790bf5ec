"""The leak check: run the workload k times and fit the memory kept per call (tracemalloc, untimed).

Only the workload's own thread counts. tracemalloc does not record threads, so every call of the
workload goes through one marker frame (``measure.passes``), and an allocation counts as the
workload's when that frame is on its stack: a thread the workload did not run in (a progress bar's
monitor, a server, a pool an earlier test left) never has it. Inside an event loop the same holds
per task: what the awaited workload runs has the marker, another task of the loop does not (it
counts as another thread). Allocations on other threads are fitted apart and reported beside the
result (``other_threads_per_iteration``), so work a workload hands to a thread that already existed
(a long-lived pool) is said, not hidden. When tracemalloc was already
tracing with fewer frames than that needs (``python -X tracemalloc``), every thread counts, and the
note says so.
"""

from __future__ import annotations

import array
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.measure.passes import Steps, drive, is_driver_frame, is_workload_call
from pytest_causal_eval.profiling.fit import growth_per_iteration
from pytest_causal_eval.profiling.memory import source_label
from pytest_causal_eval.profiling.sites import AllocationSite, aggregate_sites

__all__ = ["LeakCheck", "check_leak", "leak_steps"]

MIN_ITERATIONS = 5
MAX_ITERATIONS = 30
BUDGET_SECONDS = 0.3
# Frames kept per allocation: enough to see the marker below any ordinary workload. A deeper stack
# is cut; an allocation whose cut stack fills the limit is counted as the workload's (never hidden).
TRACEBACK_FRAMES = 64
# Other threads' growth per call worth a note (bytes).
OTHER_THREADS_NOTE_BYTES = 64.0

_WORKLOAD, _HARNESS, _OTHER = 0, 1, 2


@dataclass
class LeakCheck:
    """``per_iteration``: least-squares slope of the bytes the workload's thread retains over calls.
    ``sites`` grew over the calls. ``other_threads_per_iteration``: the same slope for allocations of
    other threads (not in ``per_iteration``), None when threads could not be told apart."""

    per_iteration: float
    retained: list[int]
    iterations: int
    sites: list[AllocationSite]
    other_threads_per_iteration: float | None = None
    other_threads: list[str] = field(default_factory=list)
    note: str | None = None


class _Classifier:
    """Whose is an allocation, from its (oldest-first) traceback; memoised per traceback."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: dict[tracemalloc.Traceback, int] = {}

    def __call__(self, traceback: tracemalloc.Traceback) -> int:
        kind = self._known.get(traceback)
        if kind is None:
            ours = False
            kind = _OTHER
            for frame in traceback:
                if is_workload_call(frame.filename, frame.lineno):
                    kind = _WORKLOAD
                    break
                if frame.filename == _THIS_FILE or is_driver_frame(frame.filename):
                    ours = True
            if kind == _OTHER and ours:
                kind = _HARNESS  # the check's own bookkeeping between calls
            elif kind == _OTHER and len(traceback) >= self.limit:
                kind = _WORKLOAD  # cut before the marker: a deep workload (rarely a deep thread)
            self._known[traceback] = kind
        return kind

    def split(self, snapshot: tracemalloc.Snapshot) -> tuple[int, int]:
        """(bytes the workload's thread holds, bytes other threads hold)."""
        sizes = [0, 0, 0]
        for stat in snapshot.statistics("traceback"):
            sizes[self(stat.traceback)] += stat.size
        return sizes[_WORKLOAD], sizes[_OTHER]

    def site_sizes(self, snapshot: tracemalloc.Snapshot) -> dict[tuple[str, int], tuple[int, int]]:
        """The workload's held bytes and blocks per allocating line."""
        out: dict[tuple[str, int], tuple[int, int]] = {}
        for stat in snapshot.statistics("traceback"):
            if self(stat.traceback) != _WORKLOAD:
                continue
            frame = stat.traceback[-1]
            size, count = out.get((frame.filename, frame.lineno), (0, 0))
            out[(frame.filename, frame.lineno)] = (size + stat.size, count + stat.count)
        return out


def _other_threads() -> list[str]:
    me = threading.get_ident()
    return sorted(
        f"{t.name} ({type(t).__module__}.{type(t).__qualname__})"
        for t in threading.enumerate()
        if t.ident != me
    )


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
    return drive(leak_steps(roots, exclude, min_iterations, max_iterations, budget_seconds), workload)


def leak_steps(
    roots: Sequence[str],
    exclude: Sequence[str] = (),
    min_iterations: int = MIN_ITERATIONS,
    max_iterations: int = MAX_ITERATIONS,
    budget_seconds: float = BUDGET_SECONDS,
    *,
    in_loop: bool = False,
) -> Steps[LeakCheck]:
    """``check_leak`` as a pass (see ``measure.passes``); ``in_loop``: the runs are awaited inside
    the running event loop."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(TRACEBACK_FRAMES)
    limit = tracemalloc.get_traceback_limit()
    if limit < TRACEBACK_FRAMES:  # tracing already with fewer frames: the marker may not be seen
        return (
            yield from _all_threads_steps(
                roots, exclude, min_iterations, max_iterations, budget_seconds, limit
            )
        )
    classify = _Classifier(limit)
    own = array.array("q", [0] * (max_iterations + 1))  # preallocated: recording allocates nothing
    other = array.array("q", [0] * (max_iterations + 1))
    n = 0
    try:
        yield None  # first-call caches (lazy imports, memoisation) are not a leak
        gc.collect()
        before = tracemalloc.take_snapshot()
        own[0], other[0] = classify.split(before)
        start = time.perf_counter()
        while n < max_iterations:
            yield None
            gc.collect()
            n += 1
            own[n], other[n] = classify.split(tracemalloc.take_snapshot())
            if n >= min_iterations and time.perf_counter() - start >= budget_seconds:
                break
        after = tracemalloc.take_snapshot()
        threads = _other_threads()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    retained = list(own[: n + 1])
    others = growth_per_iteration(list(other[: n + 1]))
    note = None
    if others >= OTHER_THREADS_NOTE_BYTES:
        where = ", ".join(threads) or "threads that have ended since"
        if in_loop:  # tasks the workload started (gather, create_task) run outside its frame too
            where = f"other tasks of the event loop or threads: {', '.join(threads) or 'no other thread'}"
        note = (
            f"other threads retained {others:.0f} B per call during the check, not counted as the "
            f"workload's: {where}"
        )
    return LeakCheck(
        per_iteration=growth_per_iteration(retained),
        retained=retained,
        iterations=n,
        sites=_grown_sites(classify.site_sizes(before), classify.site_sizes(after), roots, exclude),
        other_threads_per_iteration=others,
        other_threads=threads,
        note=note,
    )


def _grown_sites(
    before: dict[tuple[str, int], tuple[int, int]],
    after: dict[tuple[str, int], tuple[int, int]],
    roots: Sequence[str],
    exclude: Sequence[str],
) -> list[AllocationSite]:
    records = []
    for (filename, lineno), (size, count) in after.items():
        old_size, old_count = before.get((filename, lineno), (0, 0))
        if size > old_size:
            frame = (source_label(filename, lineno), filename, lineno)
            records.append(([frame], size - old_size, max(0, count - old_count)))
    return aggregate_sites(records, roots, exclude=exclude)


def _all_threads_steps(
    roots: Sequence[str],
    exclude: Sequence[str],
    min_iterations: int,
    max_iterations: int,
    budget_seconds: float,
    limit: int,
) -> Steps[LeakCheck]:
    """The fit over every thread's allocations (tracemalloc was started elsewhere with fewer frames
    than the marker needs)."""
    from pytest_causal_eval.profiling.memory import own_filters, tracemalloc_sites

    readings = array.array("q", [0] * (max_iterations + 1))
    n = 0
    yield None
    gc.collect()
    before = tracemalloc.take_snapshot()
    readings[0] = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    while n < max_iterations:
        yield None
        gc.collect()
        n += 1
        readings[n] = tracemalloc.get_traced_memory()[0]
        if n >= min_iterations and time.perf_counter() - start >= budget_seconds:
            break
    after = tracemalloc.take_snapshot()
    filters = [*own_filters(), tracemalloc.Filter(False, _THIS_FILE)]
    stats = after.filter_traces(filters).compare_to(before.filter_traces(filters), "lineno")
    threads = _other_threads()
    return LeakCheck(
        per_iteration=growth_per_iteration(list(readings[: n + 1])),
        retained=list(readings[: n + 1]),
        iterations=n,
        sites=tracemalloc_sites(stats, roots, exclude),
        other_threads=threads,
        note=(
            f"tracemalloc was already tracing with {limit} frame(s) per allocation (started outside "
            "causal-eval): the fit counts every thread's allocations"
            + (f", and other threads were running: {', '.join(threads)}" if threads else "")
        ),
    )


_THIS_FILE = leak_steps.__code__.co_filename
