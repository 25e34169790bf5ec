"""The CPU profiling pass: pyinstrument over repeated, untimed runs of the workload."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.measure.passes import Steps, drive
from pytest_causal_eval.profiling.hotspots import Hotspot, hotspots_from_tree

__all__ = ["CpuProfile", "cpu_steps", "offline_html", "profile_cpu", "pyinstrument_missing"]

# pyinstrument's page asks for web fonts at load time; an empty inline stylesheet keeps it offline
# (the page falls back to the system fonts its CSS names)
_REMOTE_CSS = re.compile(r"https?://fonts\.googleapis\.com/[^\"'\s)]*")


def offline_html(page: str) -> str:
    """pyinstrument's HTML page with its web-font request replaced by an empty inline stylesheet."""
    return _REMOTE_CSS.sub("data:text/css,", page)


MIN_PROFILE_SECONDS = 0.2
MAX_PROFILE_RUNS = 100_000
SAMPLE_INTERVAL = 0.0001


@dataclass
class CpuProfile:
    hotspots: list[Hotspot]
    html: str
    speedscope: str
    runs: int
    seconds: float
    interval: float
    samples: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def pyinstrument_missing() -> str | None:
    """Why pyinstrument cannot be used, or None (checks without importing it)."""
    import importlib.util

    if importlib.util.find_spec("pyinstrument") is None:
        return "pyinstrument is not installed (pip install 'pytest-causal-eval[profile]')"
    return None


def profile_cpu(
    workload: Callable[[], Any],
    roots: Sequence[str],
    exclude: Sequence[str] = (),
    min_seconds: float = MIN_PROFILE_SECONDS,
    max_runs: int = MAX_PROFILE_RUNS,
    interval: float = SAMPLE_INTERVAL,
) -> CpuProfile:
    """Run ``workload`` under pyinstrument at least once and until ``min_seconds`` have passed."""
    return drive(cpu_steps(roots, exclude, min_seconds, max_runs, interval), workload)


def cpu_steps(
    roots: Sequence[str],
    exclude: Sequence[str] = (),
    min_seconds: float = MIN_PROFILE_SECONDS,
    max_runs: int = MAX_PROFILE_RUNS,
    interval: float = SAMPLE_INTERVAL,
    *,
    in_loop: bool = False,
) -> Steps[CpuProfile]:
    """``profile_cpu`` as a pass (see ``measure.passes``). ``in_loop``: the runs are awaited inside
    the running event loop, so pyinstrument follows the awaiting task (time another task or the loop
    takes while it waits is the ``await``'s) instead of interleaving the loop's other work."""
    from pyinstrument import Profiler
    from pyinstrument.renderers import HTMLRenderer, SpeedscopeRenderer

    profiler = Profiler(interval=interval, async_mode="enabled" if in_loop else "disabled")
    runs = 0
    profiler.start()
    start = time.perf_counter()
    try:
        while True:
            yield None
            runs += 1
            if runs >= max_runs or time.perf_counter() - start >= min_seconds:
                break
    finally:
        session = profiler.stop()
    seconds = time.perf_counter() - start
    root = session.root_frame()
    hotspots = hotspots_from_tree(root, roots, exclude=exclude) if root is not None else []
    return CpuProfile(
        hotspots=hotspots,
        html=offline_html(HTMLRenderer().render(session)),
        speedscope=SpeedscopeRenderer().render(session),
        runs=runs,
        seconds=seconds,
        interval=interval,
        samples=len(session.frame_records),
    )
