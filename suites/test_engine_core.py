"""Engine core: question generation and end-to-end evaluation with the reference models.

With the plugin off each case runs once and checks correctness; with ``--causal-eval`` each is
measured, with accuracy and questions/s recorded beside the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import BATCH_SIZES
from pytest_causal_eval.engine import Evaluator, create_model, create_task, task_names

TASKS = task_names()


@pytest.mark.parametrize("task", TASKS)
def test_generate(causal_bench, task: str, suite_n: int, suite_seed: int) -> None:
    generator = create_task(task)

    def generate() -> int:
        stream = generator.questions(seed=suite_seed)
        answers = [next(stream).answer for _ in range(suite_n)]
        return answers.count("yes")

    causal_bench.items = suite_n
    yes = causal_bench(generate)
    assert yes == suite_n // 2  # balanced by construction


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("task", TASKS)
def test_evaluate_oracle(causal_bench, task: str, batch_size: int, suite_n: int, suite_seed: int) -> None:
    evaluator = Evaluator(create_model("oracle"), batch_size=batch_size, bootstrap_reps=200)
    generator = create_task(task)
    causal_bench.items = suite_n
    result = causal_bench(lambda: evaluator.run(generator.questions(seed=suite_seed), n=suite_n))
    assert result.accuracy == 1.0 and result.unparsed == 0 and result.errors == 0
    causal_bench.record("accuracy", result.accuracy, unit="", better="higher")


def test_replay_bbh_causal_judgement(causal_bench, shared_data: Path) -> None:
    from pytest_causal_eval.engine import load_dataset

    # The recorded outputs carry each item's input and target beside the model's prediction.
    recorded = shared_data / "bbh-causal-judgement" / "code-davinci-002-direct-outputs.json"
    evaluator = Evaluator(create_model("replay", path=str(recorded)), batch_size=32, bootstrap_reps=200)
    questions = list(load_dataset(recorded))
    causal_bench.items = len(questions)
    result = causal_bench(lambda: evaluator.run(iter(questions), n=len(questions)))
    assert len(questions) == 187
    assert round(result.accuracy * 100, 2) == 63.64  # the published figure
    causal_bench.record("accuracy", result.accuracy, unit="", better="higher")
