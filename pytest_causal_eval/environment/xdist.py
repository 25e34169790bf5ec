"""Timing under pytest-xdist: modes, disjoint CPU sets, and the timing lock (the worker identity is
``measure.workers``).

``off``: workers time concurrently (fast, noisier). ``pin``: each worker is pinned to its own CPU
set and its thread pools are sized to it. ``serial``: untimed work stays parallel, but a timed
section takes an inter-process file lock so one worker times at a time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_XDIST_MODE",
    "XDIST_MODES",
    "PinPlan",
    "TimingLockProbe",
    "lock_path",
    "parse_xdist_mode",
    "plan_pin",
]

XDIST_MODES = ("serial", "pin", "off")
DEFAULT_XDIST_MODE = "serial"  # chosen by measurement: benchmarks/xdist_agreement.py


def parse_xdist_mode(text: str) -> str:
    value = str(text).strip().lower()
    if value not in XDIST_MODES:
        raise ValueError(f"expected one of {', '.join(XDIST_MODES)}, got {text!r}")
    return value


@dataclass(frozen=True)
class PinPlan:
    """The CPUs of one worker, or a fallback with the reason said to the user."""

    cpus: tuple[int, ...] | None
    threads: int
    fallback: str | None = None  # the mode used instead, when pinning is impossible
    message: str | None = None


def plan_pin(available: Sequence[int], workers: int, index: int) -> PinPlan:
    """Split ``available`` CPUs into ``workers`` disjoint contiguous sets; worker ``index`` gets one.

    More workers than CPUs cannot be pinned disjointly: the plan falls back to ``serial`` and says so.
    """
    cpus = sorted(set(available))
    if workers < 1 or not 0 <= index < workers:
        raise ValueError(f"worker index {index} out of range for {workers} worker(s)")
    if workers > len(cpus):
        return PinPlan(
            cpus=None,
            threads=1,
            fallback="serial",
            message=(
                f"--causal-eval-xdist=pin: {workers} workers but only {len(cpus)} CPU(s) available, "
                "so workers cannot get disjoint cores; falling back to serial timing "
                "(one worker times at a time)"
            ),
        )
    size, extra = divmod(len(cpus), workers)
    start = index * size + min(index, extra)
    mine = tuple(cpus[start : start + size + (1 if index < extra else 0)])
    return PinPlan(cpus=mine, threads=len(mine))


def lock_path(testrunuid: str, directory: Path | None = None) -> Path:
    safe = "".join(c for c in testrunuid if c.isalnum() or c in "-_") or "run"
    return (directory or Path(tempfile.gettempdir())) / f"causal-eval-timing-{safe}.lock"


class TimingLockProbe:
    """A measurement probe holding the run's timing lock from warm-up to the last round."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self.waited = 0.0

    def start(self) -> None:
        import time

        began = time.perf_counter()
        self._lock.acquire()
        self.waited = time.perf_counter() - began

    async def start_async(self) -> None:
        """``start`` for a measurement inside a running event loop (``causal_bench.aio``): wait
        for the lock without blocking the loop, so the test's other tasks keep running."""
        import asyncio
        import time

        from filelock import Timeout

        began = time.perf_counter()
        delay = 0.001
        while True:
            try:
                self._lock.acquire(timeout=0)
                break
            except Timeout:
                await asyncio.sleep(delay)
                delay = min(0.05, delay * 2)
        self.waited = time.perf_counter() - began

    def stop(self, measurement: Any) -> None:
        if self._lock.is_locked:
            self._lock.release()
        measurement.extra["xdist_lock_wait"] = round(self.waited, 6)
