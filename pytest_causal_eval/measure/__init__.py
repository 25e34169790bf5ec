"""Measuring: timers, calibration, rounds, memory and I/O counters, GPU timing."""

from __future__ import annotations

from pytest_causal_eval.measure.cuda import CudaEventTimer, check_synchronized
from pytest_causal_eval.measure.runner import Runner, RunnerConfig
from pytest_causal_eval.measure.timer import PerfCounterTimer, RoundClock, Timer

__all__ = [
    "CudaEventTimer",
    "PerfCounterTimer",
    "RoundClock",
    "Runner",
    "RunnerConfig",
    "Timer",
    "check_synchronized",
]
