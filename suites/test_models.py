"""Models x batch size on one task: the oracle, the torch classifier, a replayed recording, and the
oracle served over HTTP by a local OpenAI-compatible server (started once per session).

The torch cases skip with the reason when torch is not installed; the rest run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import BATCH_SIZES, HTTP_GATE, HTTP_NOT_COUNTED, SUITE_SEED, SUITE_TASK
from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

pytestmark = [
    pytest.mark.causal_eval(metric_thresholds=EVAL_THRESHOLDS),
    pytest.mark.causal_engine(task=SUITE_TASK, stream_seed=SUITE_SEED),
]


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_oracle(causal_engine: Any, causal_bench: Any, batch_size: int, suite_n: int) -> None:
    result = causal_engine("oracle", batch_size=batch_size).measure(causal_bench, suite_n)
    assert result.accuracy == 1.0 and result.errors == 0


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_torch_random_init(causal_engine: Any, causal_bench: Any, batch_size: int, suite_n: int) -> None:
    """Raw inference speed of the untrained network (weights do not change the cost)."""
    engine = causal_engine("torch", batch_size=batch_size, random_init=True, device="cpu")
    result = engine.measure(causal_bench, suite_n)
    assert result.n == suite_n and result.errors == 0 and result.unparsed == 0


@pytest.mark.parametrize("batch_size", [32])
def test_torch_trained(causal_engine: Any, causal_bench: Any, torch_checkpoint: Any, batch_size: int) -> None:
    """Accuracy of the classifier trained at session start, on its held-out questions."""
    engine = causal_engine(
        "torch",
        batch_size=batch_size,
        stream_seed=SUITE_SEED + 1_000_003,
        checkpoint=str(torch_checkpoint.weights),
    )
    result = engine.measure(causal_bench, torch_checkpoint.heldout_n)
    # The evaluator scores the held-out questions exactly as the trainer did.
    assert result.accuracy == pytest.approx(torch_checkpoint.heldout_accuracy[SUITE_TASK], abs=1e-6)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_replay(
    causal_engine: Any, causal_bench: Any, replay_recording: Path, batch_size: int, suite_n: int
) -> None:
    result = causal_engine("replay", batch_size=batch_size, path=str(replay_recording)).measure(
        causal_bench, suite_n
    )
    assert result.errors == 0
    assert result.accuracy == (suite_n - suite_n // 4) / suite_n  # every 4th recorded answer is wrong


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.causal_eval(threshold=HTTP_GATE, instructions=HTTP_NOT_COUNTED)
def test_http_oracle(causal_engine: Any, causal_bench: Any, batch_size: int, suite_n: int) -> None:
    """The same oracle behind the OpenAI-compatible HTTP client: the cost of the wire."""
    engine = causal_engine("http:oracle", batch_size=batch_size, n=suite_n)
    result = engine.measure(causal_bench, suite_n)
    assert result.accuracy == 1.0 and result.errors == 0
