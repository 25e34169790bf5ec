"""Engine core: question generation and end-to-end evaluation with the reference models.

With the plugin off each case runs once and checks correctness; with ``--causal-eval`` each is
measured, with accuracy, latency percentiles and questions/s recorded beside the time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import BATCH_SIZES
from pytest_causal_eval.engine import create_task, load_dataset, task_names
from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

TASKS = task_names()

pytestmark = pytest.mark.causal_eval(metric_thresholds=EVAL_THRESHOLDS)


@pytest.mark.parametrize("task", TASKS)
def test_generate(causal_bench: Any, task: str, suite_n: int, suite_seed: int) -> None:
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
def test_evaluate_oracle(
    causal_engine: Any, causal_bench: Any, task: str, batch_size: int, suite_n: int, suite_seed: int
) -> None:
    engine = causal_engine("oracle", task=task, batch_size=batch_size, stream_seed=suite_seed)
    result = engine.measure(causal_bench, suite_n)
    assert result.n == suite_n
    assert result.accuracy == 1.0 and result.unparsed == 0 and result.errors == 0
    assert result.batches == -(-suite_n // batch_size)


@pytest.mark.causal_engine(batch_size=32)
def test_replay_bbh_causal_judgement(causal_engine: Any, causal_bench: Any, data_dir: Path) -> None:
    # The recorded outputs carry each item's input and target beside the model's prediction.
    recorded = data_dir / "bbh-causal-judgement" / "code-davinci-002-direct-outputs.json"
    engine = causal_engine("replay", path=str(recorded))
    questions = list(load_dataset(recorded))
    assert len(questions) == 187
    causal_bench.items = len(questions)
    result = causal_bench(engine.evaluate, questions)
    assert round(result.accuracy * 100, 2) == 63.64  # the published figure
    causal_bench.record("accuracy", result.accuracy, better="higher")
