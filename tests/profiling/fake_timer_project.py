"""The conftest of the profiling tests' pytester projects: a fake timer the workloads advance
(``FakeTimer.now``), so a planted slowdown is exact and no verdict depends on the machine."""

CONFTEST = """
import pytest

class FakeTimer:
    # each call of work() advances the clock by COST ms plus a fixed jitter pattern
    now = 0
    def wall_ns(self):
        FakeTimer.now += 1
        return FakeTimer.now
    def cpu_ns(self):
        return FakeTimer.now
    def resolution_ns(self):
        return 1.0

def pytest_causal_eval_timer(config):
    return FakeTimer()
"""
