"""A measurement whose timed rounds are too short for the CPU time counters still gets a foreign-load
reading (over the whole measurement, else the measurement and a wait after it), so a fast benchmark
measured on a busy machine is not judged as if the machine were quiet.

The project's sampler is the real ``CpuTimesSampler`` over fake counters that follow the fake clock:
this session uses one CPU while the clock moves, other processes FAKE_LOAD of both CPUs, and the
sampler's wait advances the fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import FAKE_CLOCK_CONFTEST
from .runargs import ARGS

COUNTERS = """

import collections

_System = collections.namedtuple("_System", "user idle")
_Proc = collections.namedtuple("_Proc", "user system")


class FakeCounters:
    # the psutil surface CpuTimesSampler reads, driven by CLOCK (seconds = CLOCK.now / 1e9)
    def cpu_count(self):
        return 2

    def _seconds(self):
        return CLOCK.now / 1e9

    def cpu_times(self):
        import os

        now = self._seconds()
        busy = now + float(os.environ.get("FAKE_LOAD", "0")) * 2 * now
        return _System(busy, 2 * now - busy)

    def Process(self, pid=None):
        counters = self

        class Proc:
            pid = 1

            def cpu_times(self):
                return _Proc(counters._seconds(), 0.0)

            def children(self, recursive=False):
                return []

        return Proc()


@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_load_sampler(config):
    from pytest_causal_eval.environment.load import CpuTimesSampler

    return CpuTimesSampler(
        psutil=FakeCounters(),
        root_pid=None,
        clock=lambda: CLOCK.now / 1e9,
        tick=0.0,
        sleep=lambda seconds: CLOCK.tick(int(seconds * 1e9)),
    )
"""

FAST = """
def test_fast(causal_bench, work):
    causal_bench.pedantic(work, rounds=6)  # 6 ms of rounds: too short to read alone
"""


@pytest.fixture
def counted(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    project.makeconftest(FAKE_CLOCK_CONFTEST + COUNTERS)
    project.makepyfile(test_fast=FAST)
    return project


def extra(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    data = json.loads((pytester.path / "out.json").read_text())
    [m] = [m for m in data["measurements"] if m["id"].endswith(name)]
    return dict(m["extra"])


def test_a_fast_regression_on_a_busy_machine_is_read_and_inconclusive(
    counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted.runpytest(*ARGS, "--causal-eval-save", "test_fast.py").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_SEED", "3")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_LOAD", "0.48")
    result = counted.runpytest(*ARGS, "test_fast.py", "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1)
    got = extra(counted, "test_fast")
    # 7.8 ms of warm-up-less rounds, then the sampler waited out the rest of its 50 ms window
    assert got["load"] == {
        "foreign_share": 0.48,
        "cpus": 2,
        "seconds": pytest.approx(0.051),
        "window": "padded",
    }
    assert got["verdict"]["verdict"] == "inconclusive"
    assert got["verdict"]["message"].endswith(
        "other processes used 48% of 2 CPUs during the measurement and a wait after it (the measurement "
        "was too short to read) (limit 25%, --causal-eval-max-foreign-load): inconclusive"
    )
    assert got["health"]["noisy"] is True and got["health"]["judged_by"] == "foreign share"
    assert "1 time regression(s) measured while other processes used 48% of the CPUs" in result.stdout.str()


def test_a_fast_regression_on_a_quiet_machine_still_fails(
    counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted.runpytest(*ARGS, "--causal-eval-save", "test_fast.py").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_SEED", "3")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_LOAD", "0.05")
    result = counted.runpytest(*ARGS, "test_fast.py", "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1)
    got = extra(counted, "test_fast")
    assert got["load"]["foreign_share"] == 0.05 and got["load"]["window"] == "padded"
    assert got["verdict"]["verdict"] == "regressed"


def test_short_rounds_after_a_long_warm_up_are_read_over_the_whole_measurement(
    counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 ms of rounds after 60 ms of warm-up: the reading covers the measurement, no waiting."""
    monkeypatch.setenv("FAKE_LOAD", "0.3")
    short = ("--causal-eval-max-time", "20ms", "--causal-eval-warmup", "60ms")
    result = counted.runpytest(*ARGS, *short, "-k", "plain", "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1, deselected=3)
    load = extra(counted, "test_plain")["load"]
    assert load["window"] == "measurement" and load["foreign_share"] == 0.3
    assert load["seconds"] > 0.08  # warm-up, calibration and the rounds


def test_long_rounds_are_read_alone(counted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LOAD", "0.3")
    counted.runpytest(*ARGS, "-k", "plain", "--causal-eval-json", "out.json").assert_outcomes(
        passed=1, deselected=3
    )
    load = extra(counted, "test_plain")["load"]
    assert "window" not in load and load["foreign_share"] == 0.3  # the timed rounds
