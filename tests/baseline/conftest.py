"""A pytester project whose workloads advance a fake clock by planted, seeded amounts."""

from __future__ import annotations

import numpy  # noqa: F401 - pytester's in-process runs drop modules first imported inside them;
import pytest  # numpy (a C extension) cannot be imported twice, so it is loaded out here
from fakeclock import FAKE_CLOCK_SOURCE

import pytest_causal_eval.baseline.plugin  # noqa: F401 - same reason

FAKE_CLOCK_CONFTEST = (
    FAKE_CLOCK_SOURCE
    + '''
import os
import random

RNG = random.Random(int(os.environ.get("FAKE_SEED", "1")))
CALLS = {"n": 0}


def pytest_causal_eval_after_measure(item, measurement, workload):
    # peak RSS of an in-process pytester run depends on what ran before; pin it
    if "rss_growth" in measurement.metrics:
        measurement.metrics["rss_growth"].value = 50e6


def pytest_causal_eval_explain(item, measurement, baseline, workload):
    return [f"explained: baseline has {len(baseline.samples)} samples"]


@pytest.fixture
def work():
    """Advance the clock by 1 ms x slowdown x log-normal noise (env FAKE_SLOWDOWN, FAKE_NOISE).

    FAKE_SPELL="share,factor": slow spells, as a shared machine has them: in every run of 100
    calls, the first share of them take factor times as long. FAKE_SPELL_FIRST="calls,factor": the
    first that many calls of the session take factor times as long (a spell over a whole pass);
    FAKE_SPELL_AFTER="calls,factor": every call after that many does."""
    slowdown = float(os.environ.get("FAKE_SLOWDOWN", "1.0"))
    noise = float(os.environ.get("FAKE_NOISE", "0.01"))
    share, factor = (float(v) for v in os.environ.get("FAKE_SPELL", "0,1").split(","))
    first, first_factor = (float(v) for v in os.environ.get("FAKE_SPELL_FIRST", "0,1").split(","))
    after, after_factor = (float(v) for v in os.environ.get("FAKE_SPELL_AFTER", "inf,1").split(","))

    def run():
        CALLS["n"] += 1
        spell = factor if CALLS["n"] % 100 < 100 * share else 1.0
        spell *= first_factor if CALLS["n"] <= first else 1.0
        spell *= after_factor if CALLS["n"] > after else 1.0
        CLOCK.now += int(1_000_000 * slowdown * spell * RNG.lognormvariate(0.0, noise))

    return run
'''
)

TESTS = """
import pytest


def test_plain(causal_bench, work):
    causal_bench(work)


@pytest.mark.causal_eval(threshold="50%")
def test_lenient(causal_bench, work):
    causal_bench(work)


@pytest.mark.causal_eval(metric_thresholds={"accuracy": "2pts"})
def test_accuracy(causal_bench, work):
    import os
    causal_bench(work)
    causal_bench.record("accuracy", float(os.environ.get("FAKE_ACCURACY", "0.85")), better="higher")
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name in (
        "FAKE_SLOWDOWN",
        "FAKE_NOISE",
        "FAKE_SEED",
        "FAKE_ACCURACY",
        "FAKE_LOAD",
        "FAKE_SPELL",
        "FAKE_SPELL_FIRST",
        "FAKE_SPELL_AFTER",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(FAKE_CLOCK_CONFTEST)
    pytester.makepyfile(test_gate=TESTS)
    return pytester
