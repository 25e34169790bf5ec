"""A time regression measured under foreign load is measured afresh once (by default): the new
pass's rounds and load reading replace the busy ones and are judged again (the fake clock plants
the slowdown; the sampler reads the shares in FAKE_LOADS one reading after the other)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import FAKE_CLOCK_CONFTEST
from .runargs import ARGS

PLAIN = ("-k", "plain")
QUIET_START = "--causal-eval-health-sample=off"

SCRIPTED_LOAD = """

READINGS = {"n": 0}


class ScriptedLoadSampler:
    # the n-th reading of the run reads the n-th share of FAKE_LOADS (the last one thereafter)
    def begin(self):
        return "begun"

    def end(self, begun):
        import os

        from pytest_causal_eval.measure.load import LoadReading

        shares = [float(s) for s in os.environ.get("FAKE_LOADS", "0").split(",")]
        share = shares[min(READINGS["n"], len(shares) - 1)]
        READINGS["n"] += 1
        return LoadReading(foreign_share=share, cpus=2, seconds=1.0)


@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_load_sampler(config):
    return ScriptedLoadSampler()
"""


@pytest.fixture
def scripted(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    project.makeconftest(FAKE_CLOCK_CONFTEST + SCRIPTED_LOAD)
    monkeypatch.delenv("FAKE_LOADS", raising=False)
    project.runpytest(*ARGS, QUIET_START, "--causal-eval-save", *PLAIN).assert_outcomes(
        passed=1, deselected=2
    )
    monkeypatch.setenv("FAKE_SEED", "3")
    return project


def run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, loads: str, *args: str
) -> pytest.RunResult:
    monkeypatch.setenv("FAKE_LOADS", loads)
    return project.runpytest(*ARGS, QUIET_START, *PLAIN, *args, "--causal-eval-json", "out.json")


def extra(project: pytest.Pytester) -> dict[str, Any]:
    data = json.loads((project.path / "out.json").read_text())
    [m] = [m for m in data["measurements"] if m["id"].endswith("test_plain")]
    return dict(m["extra"])


def test_a_regression_measured_under_load_is_measured_afresh_and_decided_when_the_load_is_gone(
    scripted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = run(scripted, monkeypatch, "0.48,0.05")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "p10 1.2? ms vs baseline 98? us: *> 10% threshold *regressed*",
            "  (measured afresh: the first pass ran while other processes used 48% of the CPUs)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "note: 1 time regression(s) measured under foreign load were measured afresh "
            "(--causal-eval-remeasure-busy): 1 decided on the new pass, 0 still under load"
        ]
    )
    got = extra(scripted)
    assert got["verdict"]["verdict"] == "regressed"
    assert got["remeasured_under_load"] == {"passes": 1, "foreign_shares": [0.48]}
    assert got["load"] == {"foreign_share": 0.05, "cpus": 2, "seconds": 1.0}  # the new pass's alone
    # the health follows the reading that was judged
    assert got["health"]["noisy"] is False and got["health"]["foreign_share"] == 0.05


def test_still_under_load_it_stays_inconclusive_with_the_new_share(
    scripted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = run(scripted, monkeypatch, "0.48,0.6")
    result.assert_outcomes(passed=1, deselected=2)
    got = extra(scripted)
    assert got["verdict"]["verdict"] == "inconclusive"
    assert "other processes used 60% of 2 CPUs during the timed rounds" in got["verdict"]["message"]
    assert got["remeasured_under_load"] == {"passes": 1, "foreign_shares": [0.48]}
    assert got["health"]["noisy"] is True
    assert "0 decided on the new pass, 1 still under load" in result.stdout.str()


def test_more_passes_when_asked(scripted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    run(scripted, monkeypatch, "0.48,0.6,0.0", "--causal-eval-remeasure-busy=2").assert_outcomes(
        failed=1, deselected=2
    )
    assert extra(scripted)["remeasured_under_load"] == {"passes": 2, "foreign_shares": [0.48, 0.6]}


def test_opted_out_or_not_a_regression_it_is_not_measured_again(
    scripted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    run(scripted, monkeypatch, "0.48,0.05", "--causal-eval-remeasure-busy=0").assert_outcomes(
        passed=1, deselected=2
    )
    got = extra(scripted)
    assert got["verdict"]["verdict"] == "inconclusive" and "remeasured_under_load" not in got
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.0")  # busy, but no regression: load cannot make code faster
    run(scripted, monkeypatch, "0.48,0.05").assert_outcomes(passed=1, deselected=2)
    got = extra(scripted)
    assert got["verdict"]["verdict"] == "pass" and "remeasured_under_load" not in got
    assert got["load"]["foreign_share"] == 0.48


def test_a_bad_number_of_passes_is_a_usage_error(scripted: pytest.Pytester) -> None:
    result = scripted.runpytest(*ARGS, "--causal-eval-remeasure-busy=7")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--causal-eval-remeasure-busy*expected a number of fresh measuring passes from 0 to 3, got '7'*"]
    )
