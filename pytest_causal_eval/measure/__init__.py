"""Measuring: timers, calibration, rounds, memory counters."""

from __future__ import annotations

from pytest_causal_eval.measure.runner import Runner, RunnerConfig
from pytest_causal_eval.measure.timer import PerfCounterTimer, Timer

__all__ = ["PerfCounterTimer", "Runner", "RunnerConfig", "Timer"]
