"""The torch model on a CUDA device: mixed precision (``gpu_env``) and the adaptive batch size.

Marked ``gpu``; skipped with the reason when CUDA (or torch) is absent, failed instead under
``--causal-eval-require-gpu``. With the plugin on, rounds are timed with CUDA events and the peak
GPU memory is recorded beside the time.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import SUITE_SEED, SUITE_TASK
from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.causal_engine(task=SUITE_TASK, stream_seed=SUITE_SEED, batch_size=256),
]

PRECISIONS = ("fp32", "fp16", "bf16")
ADAPTIVE_START = 1 << 16  # questions per model call to try first; halved on CUDA out-of-memory


@pytest.mark.parametrize(
    "precision",
    [
        pytest.param(p, marks=pytest.mark.causal_eval(precision=p, metric_thresholds=EVAL_THRESHOLDS))
        for p in PRECISIONS
    ],
)
def test_torch_precision(
    causal_engine: Any, causal_bench: Any, gpu_env: Any, precision: str, suite_n: int
) -> None:
    engine = causal_engine("torch", random_init=True)  # device and precision come from gpu_env
    assert gpu_env.precision == precision and engine.model.precision == precision
    assert engine.model.device.type == "cuda"
    result = engine.measure(causal_bench, suite_n)
    assert result.n == suite_n and result.errors == 0 and result.unparsed == 0


@pytest.mark.causal_eval(metric_thresholds=EVAL_THRESHOLDS)
def test_torch_adaptive_batch(causal_engine: Any, causal_bench: Any, gpu_env: Any, suite_n: int) -> None:
    """The largest batch that fits: start big, halve on CUDA out-of-memory (adaptive_batch)."""
    from pytest_causal_eval.environment.gpu import adaptive_batch

    n = max(suite_n, 4 * 4096)

    def at(size: int) -> Any:
        engine = causal_engine("torch", random_init=True, batch_size=size, model_args={"batch_size": size})
        engine.run(min(n, size))  # one full-size call: out-of-memory shows here, untimed
        return engine

    chosen = adaptive_batch(at, ADAPTIVE_START, min_batch=32)
    causal_bench.record("adaptive_batch_size", chosen.batch_size, unit="questions", better="higher")
    result = chosen.value.measure(causal_bench, n)
    assert result.n == n and result.errors == 0
