"""Concurrency through the HTTP adapter against the local server: many requests in flight from one
evaluation (async executor, one question per batch), and many evaluations at once sharing one
client. The reference framework's target is 20-50 concurrent evaluations.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conftest import CONCURRENCY, HTTP_GATE, HTTP_NOT_COUNTED, SUITE_SEED, SUITE_TASK
from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

pytestmark = [
    pytest.mark.causal_eval(
        threshold=HTTP_GATE, metric_thresholds=EVAL_THRESHOLDS, instructions=HTTP_NOT_COUNTED
    ),
    pytest.mark.causal_engine(model="http:oracle", task=SUITE_TASK, stream_seed=SUITE_SEED),
]


@pytest.mark.parametrize("workers", CONCURRENCY)
def test_requests_in_flight(causal_engine: Any, causal_bench: Any, workers: int, suite_n: int) -> None:
    """One evaluation, ``workers`` single-question requests in flight (async executor)."""
    engine = causal_engine(
        batch_size=1, executor="async", workers=workers, n=suite_n, client={"max_concurrency": workers}
    )
    result = engine.measure(causal_bench, suite_n)
    assert result.accuracy == 1.0 and result.errors == 0 and result.batches == suite_n


@pytest.mark.parametrize("evaluations", CONCURRENCY)
def test_concurrent_evaluations(
    causal_engine: Any, causal_bench: Any, evaluations: int, suite_n: int
) -> None:
    """``evaluations`` evaluations at once (threads), each on its own slice of the questions."""
    engine = causal_engine(batch_size=4, n=suite_n, client={"max_concurrency": 64})
    questions = list(engine.questions(suite_n))
    slices = [questions[i::evaluations] for i in range(evaluations)]

    def evaluate_all() -> list[Any]:
        with ThreadPoolExecutor(max_workers=len(slices)) as pool:
            return list(pool.map(engine.evaluate, slices))

    causal_bench.items = suite_n
    results = causal_bench(evaluate_all)
    assert sum(r.n for r in results) == suite_n
    assert all(r.accuracy == 1.0 and r.errors == 0 for r in results)
    assert len(results) == evaluations
    latencies = sorted(r.latency.p99 for r in results)
    causal_bench.record("latency_p99_worst_evaluation", latencies[-1], unit="s", better="lower")
