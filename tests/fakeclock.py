"""The fake clock of the tests' pytester projects: its source goes into their conftest.

Time moves only when a workload moves it (``CLOCK.tick(ns)`` or ``CLOCK.now += ns``); CPU time is
half of it. The project's conftest gets ``CLOCK``, the ``pytest_causal_eval_timer`` hook that
installs it, a ``fake_timer`` fixture returning it, and a load sampler that reports the foreign
CPU share in env FAKE_LOAD (default 0: the real machine's load must not decide a fake-clock
verdict). Fake clocks with other behaviour (advancing on every read, living in a package the test
commits) stay where they are needed.
"""

FAKE_CLOCK_SOURCE = """
import pytest


class FakeClock:
    def __init__(self):
        self.now = 0

    def wall_ns(self):
        return self.now

    def cpu_ns(self):
        return self.now // 2

    def resolution_ns(self):
        return 1.0

    def tick(self, ns=1000):
        self.now += ns


CLOCK = FakeClock()


@pytest.hookimpl
def pytest_causal_eval_timer(config):
    return CLOCK


@pytest.fixture
def fake_timer():
    return CLOCK


# Other processes' share of the CPUs during each measurement's timed rounds: FAKE_LOAD (a fraction,
# default 0: a quiet machine, whatever the real one is doing).
class FakeLoadSampler:

    def begin(self):
        return "begun"

    def end(self, begun):
        import os

        from pytest_causal_eval.measure.load import LoadReading

        assert begun == "begun"
        return LoadReading(foreign_share=float(os.environ.get("FAKE_LOAD", "0")), cpus=2, seconds=1.0)


@pytest.hookimpl
def pytest_causal_eval_load_sampler(config):
    return FakeLoadSampler()
"""
