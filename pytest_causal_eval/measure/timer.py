"""Clocks behind the measurements; injectable so tests can drive time exactly."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["PerfCounterTimer", "Timer"]


class Timer(Protocol):
    """A pair of monotonic clocks in integer nanoseconds: wall time and process CPU time."""

    def wall_ns(self) -> int: ...

    def cpu_ns(self) -> int: ...

    def resolution_ns(self) -> float: ...


class PerfCounterTimer:
    """``time.perf_counter_ns`` for wall time, ``time.process_time_ns`` for CPU time."""

    def __init__(self) -> None:
        self.wall_ns = time.perf_counter_ns
        self.cpu_ns = time.process_time_ns

    def resolution_ns(self) -> float:
        return time.get_clock_info("perf_counter").resolution * 1e9
