"""Executors x models on one task: how serial, thread, process and asyncio executors (Ray with
CAUSAL_EVAL_SUITE_RAY=1) spread a trivial model, a CPU-bound one that holds the GIL, and an
I/O-bound one (the oracle over HTTP). Results must not depend on the executor.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import EXECUTORS, HTTP_GATE, HTTP_NOT_COUNTED, SUITE_SEED, SUITE_TASK
from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

pytestmark = [
    pytest.mark.causal_eval(metric_thresholds=EVAL_THRESHOLDS),
    pytest.mark.causal_engine(task=SUITE_TASK, stream_seed=SUITE_SEED, batch_size=16),
]

WORKERS = 2  # the machine's cores; more only adds contention for the CPU-bound model
SPIN_WORK = 500  # hash rounds per question: ~1 ms of pure-Python work


def _workers(executor: str) -> int | None:
    return None if executor == "serial" else WORKERS


@pytest.mark.parametrize("executor", EXECUTORS)
def test_oracle(causal_engine: Any, causal_bench: Any, executor: str, suite_n: int) -> None:
    engine = causal_engine("oracle", executor=executor, workers=_workers(executor))
    result = engine.measure(causal_bench, suite_n)
    assert result.accuracy == 1.0 and result.batches == -(-suite_n // 16)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_spin(causal_engine: Any, causal_bench: Any, executor: str, suite_n: int) -> None:
    engine = causal_engine("spin", executor=executor, workers=_workers(executor), work=SPIN_WORK)
    serial = causal_engine("spin", work=SPIN_WORK).run(suite_n)
    result = engine.measure(causal_bench, suite_n)
    assert result.errors == 0
    assert result.accuracy == serial.accuracy  # deterministic answers, whatever the executor


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.causal_eval(threshold=HTTP_GATE, instructions=HTTP_NOT_COUNTED)
def test_http_oracle(causal_engine: Any, causal_bench: Any, executor: str, suite_n: int) -> None:
    engine = causal_engine("http:oracle", executor=executor, workers=_workers(executor), n=suite_n)
    result = engine.measure(causal_bench, suite_n)
    assert result.accuracy == 1.0 and result.errors == 0
