"""Clocks behind the measurements; injectable so tests can drive time exactly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["PerfCounterTimer", "RoundClock", "SecondsClockTimer", "Timer", "round_clock_of"]


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


class SecondsClockTimer:
    """A clock given as a function returning seconds (pytest-benchmark's ``timer``, e.g.
    ``time.process_time``) for wall time; process CPU time as usual."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.cpu_ns = time.process_time_ns

    def wall_ns(self) -> int:
        return round(self.clock() * 1e9)

    def resolution_ns(self) -> float:
        """The smallest step the clock was seen to take (1 ms when it does not move in 100 reads)."""
        smallest = None
        previous = self.clock()
        for _ in range(100):
            now = self.clock()
            if now > previous and (smallest is None or now - previous < smallest):
                smallest = now - previous
            previous = now
        return smallest * 1e9 if smallest is not None else 1e6


@runtime_checkable
class RoundClock(Protocol):
    """Optional extension of a ``Timer`` that also times each round on a device (a GPU).

    The runner calls ``round_begin()`` right before a round's first clock read and
    ``round_end(timed)`` right after the round's last call and before its closing clock read;
    ``round_end`` waits for the device (so the host time covers the device work) and returns the
    device time of the round in nanoseconds.
    """

    def round_begin(self) -> None: ...

    def round_end(self, timed: bool) -> int: ...


def round_clock_of(timer: object) -> RoundClock | None:
    """The timer itself when it times rounds on a device, else None."""
    return timer if isinstance(timer, RoundClock) else None
