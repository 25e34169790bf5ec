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

A window shorter than ``MIN_SECONDS`` cannot be read (``end`` gives None), and even a longer one
errs quiet by the counters' tick slack (10 ms ticks on 2 CPUs: 40% of the CPUs at 50 ms, 10% at
200 ms). A fast measurement is still read, never taken as quiet (``measure.load.read_measurement``):
when its timed rounds are too short, ``settle`` reads the whole measurement from before warm-up
(the same workload ran in warm-up and calibration: ``window: measurement``) once that window is
``settle_seconds`` long (the slack then hides at most ``SETTLE_HIDDEN`` of the CPUs: 200 ms on 2
CPUs), waiting out the rest after the rounds when it is shorter (``window: padded``: the window
brackets the rounds; other processes' use of the CPUs while we wait is theirs as much as while we
run, and a neighbour that takes the CPU we free can only make the share larger, the verdict more
cautious). That wait, at most ``MAX_SETTLE_SECONDS``, is paid only by measurements that short.

The gate turns a time regression measured under a large foreign share into ``inconclusive``
(``baseline.load``). Tests inject a sampler with fixed shares through the
``pytest_causal_eval_load_sampler`` hook (the protocol and the reading: ``measure.load``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pytest_causal_eval.measure.load import WINDOW_PADDED, LoadReading

__all__ = ["CpuTimesSampler", "machine_busy_seconds"]

MIN_SECONDS = 0.05  # below this the tick counters cannot tell a share (the reading is None)
SETTLE_HIDDEN = 0.10  # a settled window is long enough that the tick slack hides at most 10% of the CPUs
MAX_SETTLE_SECONDS = 0.5  # ... but it waits no longer than this


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

    def settle_seconds(self, own_processes: int = 1) -> float:
        """How long a window ``settle`` reads: long enough that the counters' tick slack hides at most
        ``SETTLE_HIDDEN`` of the CPUs (at least ``MIN_SECONDS``, at most ``MAX_SETTLE_SECONDS``)."""
        slack = self._tick * (self._cpus + own_processes + 1)
        return min(MAX_SETTLE_SECONDS, max(MIN_SECONDS, slack / (SETTLE_HIDDEN * self._cpus)))

    def settle(self, begun: object) -> LoadReading | None:
        """``end`` the window once it is ``settle_seconds`` long, waiting out the rest when it is
        shorter (the reading then says ``window: padded``), so that a measurement too short to read
        is read over a window that brackets it (``measure.load.read_measurement``)."""
        if not isinstance(begun, _Snapshot):
            return None
        rest = self.settle_seconds(max(1, len(begun.own))) - (self._clock() - begun.wall)
        if rest <= 0:
            return self.end(begun)
        self._sleep(rest + 0.001)
        reading = self.end(begun)
        return replace(reading, window=WINDOW_PADDED) if reading is not None else None

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
