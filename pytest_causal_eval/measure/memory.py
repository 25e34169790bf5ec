"""Memory counters around a measurement: peak RSS (process) and Python peak (tracemalloc, on request)."""

from __future__ import annotations

import os
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_causal_eval.measure.passes import Steps, drive

__all__ = ["PeakRSS", "python_peak_bytes", "python_peak_steps"]

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _read_status_kib(field_name: str) -> int | None:
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakRSS:
    """Peak resident set size during a section.

    On Linux the kernel's high-water mark (VmHWM) is reset before the section by writing 5 to
    ``/proc/self/clear_refs``, so the peak belongs to this measurement, not the process lifetime.
    Elsewhere the lifetime peak from ``getrusage`` is the best available (``exact`` is then False).
    """

    def __init__(self) -> None:
        self.exact = False
        self.start_bytes = 0

    def start(self) -> None:
        self.exact = False
        if sys.platform.startswith("linux"):
            try:
                _CLEAR_REFS.write_text("5")
                self.exact = True
            except OSError:
                self.exact = False
        self.start_bytes = self.current()

    @staticmethod
    def current() -> int:
        kib = _read_status_kib("VmRSS")
        if kib is not None:
            return kib * 1024
        try:
            import psutil

            return int(psutil.Process(os.getpid()).memory_info().rss)
        except Exception:  # pragma: no cover - psutil is a dependency
            return 0

    def peak(self) -> int:
        kib = _read_status_kib("VmHWM")
        if kib is not None:
            return kib * 1024
        try:
            import resource

            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(maxrss if sys.platform == "darwin" else maxrss * 1024)
        except (ImportError, OSError):  # pragma: no cover - Windows
            return self.current()


def python_peak_bytes(call: Callable[[], Any]) -> int:
    """Peak Python heap allocated while running ``call`` once (untimed: tracemalloc slows code)."""
    return drive(python_peak_steps(), call)


def python_peak_steps() -> Steps[int]:
    """``python_peak_bytes`` as a pass (see ``measure.passes``): one run of the workload."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        yield None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - base)
