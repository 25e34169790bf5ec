from __future__ import annotations

import pytest

FAKE_TIMER_CONFTEST = '''
import pytest


class FakeTimer:
    """Time advances only when a workload says so: every call of `tick` is 1 us."""

    def __init__(self):
        self.now = 0
        self.cpu = 0

    def wall_ns(self):
        return self.now

    def cpu_ns(self):
        return self.cpu

    def resolution_ns(self):
        return 1.0

    def tick(self, ns=1000):
        self.now += ns
        self.cpu += ns // 2


TIMER = FakeTimer()


@pytest.hookimpl
def pytest_causal_eval_timer(config):
    return TIMER


@pytest.fixture
def fake_timer():
    return TIMER
'''


@pytest.fixture
def fake_timer_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_TIMER_CONFTEST)
