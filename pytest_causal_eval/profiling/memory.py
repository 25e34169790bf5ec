"""The memory profiling pass: memray where it runs, tracemalloc otherwise (one untimed run)."""

from __future__ import annotations

import gc
import html
import linecache
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_causal_eval.measure.passes import Steps, drive
from pytest_causal_eval.profiling.sites import AllocationSite, aggregate_sites

__all__ = [
    "MemoryProfile",
    "memory_steps",
    "memray_steps",
    "memray_unavailable",
    "own_filters",
    "profile_memory",
    "profile_memory_memray",
    "profile_memory_tracemalloc",
    "source_label",
    "tracemalloc_sites",
    "tracemalloc_steps",
]

TRACEMALLOC_FRAMES = 1


@dataclass
class MemoryProfile:
    """``peak``: highest heap during the run (B). ``allocations``: allocation count (memray only)."""

    backend: str
    peak: int
    allocations: int | None
    sites: list[AllocationSite]
    flamegraph_html: str | None
    note: str | None = None


def memray_unavailable() -> str | None:
    """Why memray cannot be used here, or None."""
    if sys.platform == "win32":
        return "memray does not run on Windows"
    try:
        import memray  # noqa: F401
    except ImportError as exc:
        return f"memray is not installed ({exc})"
    return None


def profile_memory(
    workload: Callable[[], Any], roots: Sequence[str], exclude: Sequence[str] = ()
) -> MemoryProfile:
    """memray when available, else tracemalloc with a ``note`` that says why."""
    return drive(memory_steps(roots, exclude), workload)


def memory_steps(roots: Sequence[str], exclude: Sequence[str] = ()) -> Steps[MemoryProfile]:
    """``profile_memory`` as a pass (see ``measure.passes``): one run of the workload."""
    reason = memray_unavailable()
    if reason is None:
        try:
            return (yield from memray_steps(roots, exclude))
        except _MemrayBusy as exc:  # another memray tracker is active (pytest-memray, memray run)
            reason = f"memray could not start: {exc}"
    result = yield from tracemalloc_steps(roots, exclude)
    result.note = f"{reason}; memory profiled with tracemalloc instead"
    return result


class _MemrayBusy(Exception):
    """memray's tracker could not start (the workload has not run)."""


class _Tracker:
    """memray's tracker around one run. One that cannot start (another tracker is active) raises
    ``_MemrayBusy`` before the run, which the driver throws back into the pass."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def __enter__(self) -> None:
        try:
            self.tracker.__enter__()
        except RuntimeError as exc:
            raise _MemrayBusy(str(exc)) from None

    def __exit__(self, *exc: object) -> None:
        self.tracker.__exit__(*exc)


def profile_memory_memray(
    workload: Callable[[], Any], roots: Sequence[str], exclude: Sequence[str] = ()
) -> MemoryProfile:
    try:
        return drive(memray_steps(roots, exclude), workload)
    except _MemrayBusy as exc:
        raise RuntimeError(str(exc)) from None


def memray_steps(roots: Sequence[str], exclude: Sequence[str] = ()) -> Steps[MemoryProfile]:
    import memray

    with tempfile.TemporaryDirectory(prefix="causal-eval-memray-") as tmp:
        capture = Path(tmp) / "capture.bin"
        gc.collect()
        tracker = _Tracker(
            memray.Tracker(str(capture), native_traces=False, trace_python_allocators=True, follow_fork=False)
        )
        yield tracker  # entered by the driver around the run (see measure.passes)
        reader = memray.FileReader(str(capture), report_progress=False)
        try:
            meta = reader.metadata
            records = [
                (record.stack_trace(), record.size, record.n_allocations)
                for record in reader.get_high_watermark_allocation_records(merge_threads=True)
            ]
        finally:
            reader.close()
    sites = aggregate_sites(records, roots, exclude=exclude)
    # our own page, not memray's flame graph: that one loads its scripts from a CDN and is a broken
    # page offline or in a locked-down CI artifact viewer
    return MemoryProfile(
        backend="memray",
        peak=int(meta.peak_memory),
        allocations=int(meta.total_allocations),
        sites=sites,
        flamegraph_html=sites_html(sites, int(meta.peak_memory), "memray, at the peak"),
    )


def source_label(filename: str, lineno: int) -> str:
    """tracemalloc knows no function names: the source line stands in for one."""
    text = linecache.getline(filename, lineno).strip()
    return (text[:57] + "...") if len(text) > 60 else (text or "<unknown>")


def tracemalloc_sites(
    stats: Iterable[tracemalloc.StatisticDiff], roots: Sequence[str], exclude: Sequence[str] = ()
) -> list[AllocationSite]:
    """Positive size differences of a ``lineno`` snapshot comparison as allocation sites."""
    records = []
    for stat in stats:
        if stat.size_diff <= 0:
            continue
        frame = stat.traceback[0]
        records.append(
            (
                [(source_label(frame.filename, frame.lineno), frame.filename, frame.lineno)],
                stat.size_diff,
                max(0, stat.count_diff),
            )
        )
    return aggregate_sites(records, roots, exclude=exclude)


def own_filters() -> list[tracemalloc.Filter]:
    return [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        tracemalloc.Filter(False, "<unknown>"),
    ]


def profile_memory_tracemalloc(
    workload: Callable[[], Any], roots: Sequence[str], exclude: Sequence[str] = ()
) -> MemoryProfile:
    """Peak from tracemalloc; sites are what the run left allocated (tracemalloc cannot see the peak's)."""
    return drive(tracemalloc_steps(roots, exclude), workload)


def tracemalloc_steps(roots: Sequence[str], exclude: Sequence[str] = ()) -> Steps[MemoryProfile]:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(TRACEMALLOC_FRAMES)
    try:
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(own_filters())
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        yield None
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot().filter_traces(own_filters())
    finally:
        if not was_tracing:
            tracemalloc.stop()
    sites = tracemalloc_sites(after.compare_to(before, "lineno"), roots, exclude)
    return MemoryProfile(
        backend="tracemalloc",
        peak=max(0, peak - base),
        allocations=None,
        sites=sites,
        flamegraph_html=sites_html(sites, max(0, peak - base)),
    )


def sites_html(sites: Sequence[AllocationSite], peak: int, backend: str = "tracemalloc") -> str:
    """A self-contained page (no script, no network) listing the allocation sites with a bar each."""
    from pytest_causal_eval.report.units import format_bytes

    top = max((s.size for s in sites), default=0) or 1
    rows = "\n".join(
        f"<tr><td>{html.escape(s.location)}</td><td><code>{html.escape(s.function)}</code></td>"
        f"<td class='n'>{html.escape(format_bytes(s.size))}</td><td class='n'>{s.count}</td>"
        f"<td class='bar'><span style='width:{max(1, round(100 * s.size / top))}%'></span></td></tr>"
        for s in sites
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>causal-eval memory sites</title>"
        "<style>body{font:14px/1.4 system-ui,sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{padding:3px 8px;border-bottom:1px solid #e3e6eb;text-align:left}td.n{text-align:right}"
        "td.bar{width:30%}td.bar span{display:block;height:10px;background:#2f6fde}</style></head>"
        f"<body><h1>Memory ({html.escape(backend)})</h1><p>Peak: {html.escape(format_bytes(peak))}</p>"
        "<table><tr><th>site</th><th>code</th><th>size</th><th>allocations</th><th></th></tr>\n"
        f"{rows}\n</table></body></html>\n"
    )
