"""GPU timing: CUDA events around rounds, synchronization at round ends, and a self-check.

``CudaEventTimer`` is a ``Timer`` (host clocks from the wrapped timer) that is also a
``RoundClock``: the runner asks it to record a start event before a round and an end event after
it, then to wait for the device. Only round boundaries synchronize, never single iterations, so
the device pipeline stays full inside a round. ``wall_ns`` synchronizes too, so any caller that
reads the clock (warm-up, budget checks) sees finished device work.

torch is imported lazily, and the CUDA module can be injected (tests pass a fake one).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.measure.timer import PerfCounterTimer, Timer

__all__ = ["UNSYNCHRONIZED_RATIO", "CudaEventTimer", "SyncCheck", "check_synchronized"]

# A round whose host time is below this share of its device time was not waited for.
UNSYNCHRONIZED_RATIO = 0.5


class CudaEventTimer:
    """Host clocks of ``base`` plus CUDA events on ``device`` around every round."""

    def __init__(self, base: Timer | None = None, device: Any = None, cuda: Any = None) -> None:
        if cuda is None:
            import torch

            cuda = torch.cuda
        self.base: Timer = base if base is not None else PerfCounterTimer()
        self.device = device
        self.cuda = cuda
        self.cpu_ns = self.base.cpu_ns
        self.device_ns: list[int] = []  # device time of each timed round since the last take
        self.synchronize_calls = 0
        self._start: Any = None

    # -- Timer -------------------------------------------------------------------------------------
    def wall_ns(self) -> int:
        self._synchronize()
        return self.base.wall_ns()

    def resolution_ns(self) -> float:
        return self.base.resolution_ns()

    # -- RoundClock --------------------------------------------------------------------------------
    def round_begin(self) -> None:
        self._synchronize()  # untimed work queued before the round (pedantic setup) is not counted
        self._start = self.cuda.Event(enable_timing=True)
        self._start.record()

    def round_end(self, timed: bool) -> int:
        end = self.cuda.Event(enable_timing=True)
        end.record()
        end.synchronize()
        elapsed_ms = float(self._start.elapsed_time(end)) if self._start is not None else 0.0
        self._start = None
        device_ns = max(0, round(elapsed_ms * 1e6))
        if timed:
            self.device_ns.append(device_ns)
        return device_ns

    # -- helpers -----------------------------------------------------------------------------------
    def take_device_ns(self) -> list[int]:
        """Device times of the timed rounds since the last call (the next measurement starts empty)."""
        taken, self.device_ns = self.device_ns, []
        return taken

    def _synchronize(self) -> None:
        self.synchronize_calls += 1
        if self.device is None:
            self.cuda.synchronize()
        else:
            self.cuda.synchronize(self.device)


@dataclass(frozen=True)
class SyncCheck:
    """Host against device time of the same rounds (seconds per iteration, medians)."""

    host_median: float
    device_median: float
    ratio: float  # host / device; below UNSYNCHRONIZED_RATIO means the host did not wait
    unsynchronized: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "host_median": self.host_median,
            "device_median": self.device_median,
            "host_device_ratio": self.ratio,
            "unsynchronized": self.unsynchronized,
        }


def check_synchronized(
    host: list[float], device: list[float], threshold: float = UNSYNCHRONIZED_RATIO
) -> SyncCheck | None:
    """Flag a measurement whose host time is far below its device time (work escaped the rounds).

    A synchronized round takes at least as long on the host as on the device; a host median under
    ``threshold`` times the device median means the host clock stopped before the GPU finished.
    None when there is nothing to compare.
    """
    if not host or not device:
        return None
    host_median = float(statistics.median(host))
    device_median = float(statistics.median(device))
    if device_median <= 0:
        return SyncCheck(host_median, device_median, float("inf"), False)
    ratio = host_median / device_median
    return SyncCheck(host_median, device_median, ratio, ratio < threshold)
