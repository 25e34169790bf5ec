"""Foreign CPU load during a measurement's timed rounds.

The start-of-session health check looks at the machine once, before anything is measured; a
neighbour that starts a minute later is invisible to it. So every measurement also reads how much
CPU time the machine spent, and how much of it this session's own processes spent, from the first
timed round to the last: the rest is *foreign* load (other people's builds, a browser, another test
run), as a share of all the machine's CPUs.

``CpuTimesSampler`` reads the machine's CPU time (``psutil.cpu_times``: /proc/stat on Linux, time
stolen by the hypervisor included) and the CPU time of this session's processes (the session's root,
this process or the xdist controller, and everything below it; see ``machine.own_process_ids``),
plus the children this process reaped meanwhile (``os.times``). The OS counts both in clock ticks,
so the share reported is the least the counters allow (a few ticks are given to our side): a short
measurement can miss load, it cannot invent it.

The gate turns a time regression measured under a large foreign share into ``inconclusive``
(``baseline.load``). Tests inject a sampler with fixed shares through the
``pytest_causal_eval_load_sampler`` hook (the protocol and the reading: ``measure.load``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.measure.load import LoadReading

__all__ = ["CpuTimesSampler", "machine_busy_seconds"]

MIN_SECONDS = 0.05  # below this the tick counters cannot tell a share (the reading is None)


_IDLE_FIELDS = ("idle", "iowait", "guest", "guest_nice")  # guest time is counted in user already


def machine_busy_seconds(times: Any) -> float:
    """CPU seconds the whole machine spent busy, from ``psutil.cpu_times()``."""
    fields = getattr(times, "_fields", ())
    total = sum(float(getattr(times, name)) for name in fields)
    return total - sum(float(getattr(times, name, 0.0)) for name in _IDLE_FIELDS if name in fields)


@dataclass(frozen=True)
class _Snapshot:
    wall: float
    machine: float
    own: dict[int, float]
    reaped: float


class CpuTimesSampler:
    """The real sampler (psutil); ``root_pid`` is the xdist controller's pid in a worker."""

    def __init__(
        self,
        psutil: Any = None,
        root_pid: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if psutil is None:
            import psutil
        from pytest_causal_eval.environment.readings import cpu_tick_seconds

        self._psutil = psutil
        self._root_pid = root_pid
        self._clock = clock
        self._sleep = sleep
        self._tick = cpu_tick_seconds() if tick is None else tick
        self._cpus = int(psutil.cpu_count() or os.cpu_count() or 1)

    def _own(self) -> dict[int, float]:
        from pytest_causal_eval.environment.readings import own_process_ids

        out: dict[int, float] = {}
        for pid in own_process_ids(self._psutil, self._root_pid):
            with contextlib.suppress(Exception):  # gone meanwhile, or not ours to read
                times = self._psutil.Process(pid).cpu_times()
                out[pid] = float(times.user) + float(times.system)
        return out

    @staticmethod
    def _reaped() -> float:
        t = os.times()
        return float(t.children_user) + float(t.children_system)

    def _snapshot(self) -> _Snapshot:
        own = self._own()
        return _Snapshot(self._clock(), machine_busy_seconds(self._psutil.cpu_times()), own, self._reaped())

    def begin(self) -> object:
        try:
            return self._snapshot()
        except Exception:
            return None

    def settle(self, begun: object) -> LoadReading | None:
        """``end`` the window once it is ``MIN_SECONDS`` long: waits out the rest (at most
        ``MIN_SECONDS``) when it is shorter, so that a measurement too short to read is read over
        a window that brackets it (``measure.load.read_measurement``)."""
        if not isinstance(begun, _Snapshot):
            return None
        rest = MIN_SECONDS - (self._clock() - begun.wall)
        if rest > 0:
            self._sleep(min(MIN_SECONDS, rest + 0.001))
        return self.end(begun)

    def end(self, begun: object) -> LoadReading | None:
        if not isinstance(begun, _Snapshot):
            return None
        try:
            now = self._snapshot()
        except Exception:
            return None
        seconds = now.wall - begun.wall
        if seconds < MIN_SECONDS:
            return None
        own = sum(cpu - begun.own.get(pid, 0.0) for pid, cpu in now.own.items()) + (now.reaped - begun.reaped)
        # every counter read may be one tick short or long: give our side the benefit
        slack = self._tick * (self._cpus + len(now.own) + 1)
        foreign = max(0.0, now.machine - begun.machine - own - slack)
        return LoadReading(
            foreign_share=min(1.0, foreign / (seconds * self._cpus)), cpus=self._cpus, seconds=seconds
        )
