"""Failed model calls are counted apart: accuracy, its intervals and the gate see answered questions."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.engine import Evaluator, Question, Scoreboard, generate, wilson_interval
from pytest_causal_eval.engine.models.registry import MODELS

QS = generate("association", 100, seed=4)


class Outage:
    """Answers right, except every ``every``-th batch, whose call fails as a dropped connection."""

    name = "outage"
    fingerprint = "outage:v1"

    def __init__(self, every: int = 4) -> None:
        self.every = every
        self.calls = 0

    def generate(self, questions: Sequence[Question]) -> list[str]:
        self.calls += 1
        if self.every and self.calls % self.every == 0:
            raise ConnectionError("connection reset by peer")
        return [q.answer for q in questions]


def test_errors_leave_accuracy_and_its_intervals_alone() -> None:
    result = Evaluator(Outage(every=4), batch_size=10, max_error_rate=0.5).run(QS)
    assert (result.n, result.answered, result.errors) == (100, 80, 20)
    assert result.error_rate == 0.2
    assert result.accuracy == 1.0  # the 80 answers are all right: an outage is not a wrong answer
    assert result.wilson == wilson_interval(80, 80)
    assert result.bootstrap == (1.0, 1.0)  # resampled clusters hold answered questions only
    data = result.to_dict()
    assert (data["answered"], data["errors"], data["error_rate"], data["accuracy"]) == (80, 20, 0.2, 1.0)


def test_scoreboard_counts_errors_outside_the_clusters() -> None:
    board = Scoreboard()
    board.add({}, "a", correct=True, unparsed=False, error=False)
    board.add({}, "a", correct=False, unparsed=False, error=True)
    board.add({}, "b", correct=False, unparsed=False, error=True)  # a cluster with nothing answered
    assert board.n_clusters == 1
    n, c = board.cluster_counts()
    assert list(n) == [1] and list(c) == [1]


def test_cli_reports_errors_apart(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "outage", Outage)
    argv = ["evaluate", "--model", "outage", "--task", "association", "-n", "100", "--batch-size", "10"]
    assert main([*argv, "--max-error-rate", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "questions  100   answered 80   correct 80   unparsed 0   errors 20 (20.00% error rate)" in out
    assert "accuracy   100.00%" in out and "accuracy is over the 80 answered questions" in out
    assert main([*argv, "--max-error-rate", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accuracy"] == 1.0 and data["error_rate"] == 0.2 and data["errors"] == 20
    assert main([*argv, "--model-arg", "every=1", "--max-error-rate", "1"]) == 0  # nothing answered
    out = capsys.readouterr().out
    assert "accuracy   n/a: no question was answered" in out and "Wilson" not in out


def test_the_suites_gate_the_error_rate_not_accuracy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage between the baseline and this run regresses ``error_rate``; ``accuracy`` passes."""
    pytester.makepyfile(
        """
        import os
        import pytest
        from pytest_causal_eval.engine import register_model
        from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

        class Outage:
            name = "outage"
            fingerprint = "outage:v1"
            def __init__(self):
                self.calls = 0
            def generate(self, questions):
                self.calls += 1
                if os.environ.get("OUTAGE") and self.calls % 4 == 0:
                    raise ConnectionError("connection reset by peer")
                return [q.answer for q in questions]

        register_model("outage", Outage)

        @pytest.mark.causal_eval(
            metric_thresholds=EVAL_THRESHOLDS, max_time="20ms", min_rounds=3, threshold="999%"
        )
        def test_eval(causal_engine, causal_bench):
            engine = causal_engine("outage", task="association", batch_size=5)
            engine.evaluator.max_error_rate = 1.0
            engine.measure(causal_bench, 40)
        """
    )
    base = ["-p", "no:cacheprovider", "--causal-eval", "--causal-eval-warmup", "off"]
    baselines = ["--causal-eval-baselines", str(pytester.path / "baselines")]
    pytester.runpytest(*base, *baselines, "--causal-eval-save").assert_outcomes(passed=1)

    monkeypatch.setenv("OUTAGE", "1")
    out = pytester.path / "results.json"
    result = pytester.runpytest(*base, *baselines, "--causal-eval-json", str(out))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*error_rate 0.25 vs baseline 0: +25.0pts*> 2pts threshold*"])
    (measurement,) = json.loads(out.read_text())["measurements"]
    metrics = measurement["metrics"]
    assert metrics["error_rate"]["better"] == "lower"
    assert metrics["error_rate"]["value"] == pytest.approx(0.25, abs=0.05)
    assert metrics["accuracy"]["value"] == 1.0
    assert measurement["extra"]["thresholds"]["error_rate"] == "2pts"
    verdicts = {c["metric"]: c["verdict"] for c in measurement["extra"]["verdict"]["all"]}
    assert verdicts["error_rate"] == "regressed" and verdicts["accuracy"] == "pass"
