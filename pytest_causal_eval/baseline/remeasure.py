"""Re-measuring an undecided measurement.

When the time comparison is inconclusive, the workload kept by ``causal_bench``
(``session.stores[nodeid].workloads[name]``) is measured again with the session's runner settings
and timer, up to ``--causal-eval-remeasure`` extra passes, the new rounds are pooled with the old,
and the comparison is repeated. Still undecided: the verdict is inconclusive (a warning; a failure
with ``--causal-eval-strict``), never a guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_causal_eval.baseline.gate import GateConfig, judge
from pytest_causal_eval.extra_keys import REMEASURED
from pytest_causal_eval.measure.load import LOAD_EXTRA_KEY, pooled, read_window
from pytest_causal_eval.measure.runner import Runner
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.session import CausalEvalSession
from pytest_causal_eval.stats.compare import Comparison

__all__ = ["remeasure", "remeasure_if_undecided"]


def remeasure_if_undecided(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    entry: Mapping[str, Any] | None,
    config: GateConfig,
    comparisons: list[Comparison],
    extra_passes: int,
) -> list[Comparison]:
    """Measure again while the time comparison is inconclusive, at most ``extra_passes`` times;
    returns the comparisons of the last pass."""
    store = session.stores.get(item.nodeid)
    workload = store.workloads.get(measurement.name) if store is not None else None
    passes = 0
    while (
        passes < extra_passes
        and workload is not None
        and measurement.mode == "auto"
        and any(c.verdict == "inconclusive" and c.metric == "time" for c in comparisons)
    ):
        remeasure(session, item, measurement, workload)
        passes += 1
        comparisons = judge(measurement, entry, config)
    if passes:
        REMEASURED.put(measurement, passes)
    return comparisons


def remeasure(
    session: CausalEvalSession, item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]
) -> None:
    """One more measuring pass of ``workload``; its rounds are appended to the measurement's samples,
    and the foreign load read over them is pooled into its reading (the pooled rounds are judged).

    No warm-up: the workload has just run its warm-up and rounds, so it is as warm as it gets.
    """
    config = dataclasses.replace(session.runner_config(item), warmup=0.0)
    sampler = session.config.hook.pytest_causal_eval_load_sampler(config=session.config)
    begun = sampler.begin() if sampler is not None else None
    outcome = Runner(config, session.timer).run(workload)
    reading = read_window(sampler, begun) if sampler is not None else None
    if reading is not None:
        measurement.extra[LOAD_EXTRA_KEY] = pooled(measurement.extra.get(LOAD_EXTRA_KEY), reading)
    measurement.samples = [*measurement.samples, *outcome.per_iteration_seconds()]
    measurement.cpu_samples = [*measurement.cpu_samples, *outcome.per_iteration_cpu_seconds()]
