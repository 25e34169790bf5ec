"""Each measurement's health judges the CPU by the foreign share read during that measurement (the
same reading and limit as the verdict's load rule), not by the 1-minute load average, which lags by
a minute and counts our own process: the health line and the verdict cannot contradict each other.

The load average is planted (env FAKE_LOADAVG), the foreign share too (FAKE_LOAD, the fake
sampler), and the slowdown by the fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import FAKE_CLOCK_CONFTEST
from .runargs import ARGS

PLAIN = ("-k", "plain")
QUIET_START = "--causal-eval-health-sample=off"  # the real machine's busy processes stay out of it

PLANTED_LOAD_AVERAGE = """

# the 1-minute load average, at the start of the run and after each measurement (env FAKE_LOADAVG)
# (the module as imported now: an in-process run may import it afresh, beside the package's attribute)
def pytest_configure(config):
    import importlib
    import os

    readings = importlib.import_module("pytest_causal_eval.environment.readings")

    value = float(os.environ.get("FAKE_LOADAVG", "0.1"))
    config._original_load_average = readings.load_average
    readings.load_average = lambda: (value, value, value)


def pytest_unconfigure(config):
    import importlib

    readings = importlib.import_module("pytest_causal_eval.environment.readings")
    readings.load_average = config._original_load_average
"""

NO_READING = """

class ShortSampler:
    # a sampler whose windows are always too short to read, with no way to wait: no reading at all
    def begin(self):
        return "begun"

    def end(self, begun):
        return None


@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_load_sampler(config):
    return ShortSampler()
"""


@pytest.fixture
def loaded(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("FAKE_LOADAVG", raising=False)
    project.makeconftest(FAKE_CLOCK_CONFTEST + PLANTED_LOAD_AVERAGE)
    return project


def measured(pytester: pytest.Pytester) -> dict[str, Any]:
    data = json.loads((pytester.path / "out.json").read_text())
    [m] = [m for m in data["measurements"] if m["id"].endswith("test_plain")]
    return dict(m["extra"])


def plant(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, load_average: str, share: str
) -> pytest.RunResult:
    project.runpytest(*ARGS, QUIET_START, "--causal-eval-save", *PLAIN).assert_outcomes(
        passed=1, deselected=2
    )
    monkeypatch.setenv("FAKE_SEED", "3")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_LOADAVG", load_average)
    monkeypatch.setenv("FAKE_LOAD", share)
    return project.runpytest(*ARGS, QUIET_START, *PLAIN, "--causal-eval-json", "out.json")


def test_a_quiet_measurement_after_a_busy_minute_is_not_called_noisy(
    loaded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load average 50 (the minute before), 5% foreign share during the rounds: a real regression,
    and nothing says the machine was noisy while it was measured."""
    result = plant(loaded, monkeypatch, "50", "0.05")
    result.assert_outcomes(failed=1, deselected=2)
    extra = measured(loaded)
    assert extra["verdict"]["verdict"] == "regressed"
    assert extra["health"]["noisy"] is False, extra["health"]
    assert extra["health"]["judged_by"] == "foreign share"
    assert extra["health"]["foreign_share"] == 0.05
    assert extra["health"]["load_avg_1m"] == 50.0  # recorded, not judged by
    out = result.stdout.str()
    assert "the machine was noisy during this measurement" not in out
    assert "taken while the machine was noisy" not in out
    assert "noisy machine" not in out
    assert "WARNING the machine looked noisy at the start" not in out
    result.stdout.fnmatch_lines(
        [
            "causal-eval: note: the machine looked noisy at the start: load average 50.00 on * CPU(s)*; "
            "each measurement read other processes' CPU use during its own measurement instead "
            "(0 of 1 noisy)"
        ]
    )


def test_a_busy_measurement_in_a_quiet_minute_is_noisy_and_inconclusive(
    loaded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load average 0.1 (it has not caught up yet), 48% foreign share during the rounds: the
    health line says noisy, with the share that made the regression inconclusive."""
    result = plant(loaded, monkeypatch, "0.1", "0.48")
    result.assert_outcomes(passed=1, deselected=2)
    extra = measured(loaded)
    assert extra["verdict"]["verdict"] == "inconclusive"
    health = extra["health"]
    assert health["noisy"] is True and health["judged_by"] == "foreign share"
    reason = "other processes used 48% of 2 CPUs during the timed rounds (limit 25%)"
    assert health["reasons"] == [reason]
    result.stdout.fnmatch_lines(
        [
            f"causal-eval: WARNING 1 measurement(s) taken while the machine was noisy (first: "
            f"test_gate.py::test_plain: {reason}) (CPU judged by the foreign CPU share read during the "
            "measurement: 1)"
        ]
    )


def test_the_health_follows_the_gate_s_limit(
    loaded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At --causal-eval-max-foreign-load=50% a 48% share is judged, by the verdict and the health."""
    loaded.runpytest(*ARGS, QUIET_START, "--causal-eval-save", *PLAIN)
    monkeypatch.setenv("FAKE_LOAD", "0.48")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = loaded.runpytest(
        *ARGS, QUIET_START, *PLAIN, "--causal-eval-max-foreign-load=50%", "--causal-eval-json", "out.json"
    )
    result.assert_outcomes(failed=1, deselected=2)
    extra = measured(loaded)
    assert extra["verdict"]["verdict"] == "regressed" and extra["health"]["noisy"] is False


def test_without_a_reading_the_load_average_judges_and_the_summary_says_so(
    loaded: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded.makeconftest(FAKE_CLOCK_CONFTEST + PLANTED_LOAD_AVERAGE + NO_READING)
    monkeypatch.setenv("FAKE_LOADAVG", "50")
    result = loaded.runpytest(*ARGS, QUIET_START, *PLAIN, "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1, deselected=2)
    extra = measured(loaded)
    assert extra["load"] == {"unread": "the CPU time counters gave no reading"}
    assert extra["health"]["judged_by"] == "load average" and extra["health"]["noisy"] is True
    assert "foreign_share" not in extra["health"]
    out = result.stdout.str()
    assert "(CPU judged by the 1-minute load average (no reading): 1)" in out
    assert (
        "causal-eval: WARNING foreign CPU load could not be read for 1 measurement(s) (first: "
        "test_gate.py::test_plain: the CPU time counters gave no reading)"
    ) in out
