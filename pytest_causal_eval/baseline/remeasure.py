"""Re-measuring an undecided measurement.

When the time comparison is inconclusive, the workload kept by ``causal_bench``
(``session.stores[nodeid].workloads[name]``) is measured again with the session's runner settings
and timer, up to ``--causal-eval-remeasure`` extra passes, the new rounds are pooled with the old,
and the comparison is repeated. Still undecided: the verdict is inconclusive (a warning; a failure
with ``--causal-eval-strict``), never a guess.

A time regression measured while other processes used the load limit's share of the CPUs or more
(``baseline.load``) is measured afresh instead, up to ``--causal-eval-remeasure-busy`` passes
(default 1): the busy rounds say nothing about the code, so pooling with them would keep their
bias; the new pass's rounds and its own load reading replace them, and are judged by the same
rules (the statistics, then the load rule on the new reading). A neighbour that has gone lets the
regression be decided; one still there leaves it inconclusive, as before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from pytest_causal_eval.baseline.gate import GateConfig, judge
from pytest_causal_eval.baseline.load import busy_reason, judge_under_load
from pytest_causal_eval.environment.xdist import TimingLockProbe
from pytest_causal_eval.extra_keys import HEALTH, REMEASURED, REMEASURED_UNDER_LOAD, MeasurementHealth
from pytest_causal_eval.measure.load import (
    DEFAULT_MAX_FOREIGN_LOAD,
    LOAD_EXTRA_KEY,
    foreign_share,
    pooled,
    read_window,
)
from pytest_causal_eval.measure.runner import Runner
from pytest_causal_eval.results import Measurement, Metric
from pytest_causal_eval.session import CausalEvalSession
from pytest_causal_eval.stats.compare import Comparison

__all__ = [
    "judge_afresh",
    "measure_afresh",
    "remeasure",
    "remeasure_if_busy",
    "remeasure_if_undecided",
    "workload_of",
]


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
    workload = workload_of(session, item, measurement)
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


@contextlib.contextmanager
def _timing_lock(session: CausalEvalSession, item: pytest.Item, measurement: Measurement) -> Iterator[None]:
    """Hold the run's timing lock (pytest-xdist's ``serial`` timing mode) around an extra pass, as
    the first pass held it, so that no other worker's rounds run beside it; the time waited for it
    is added to the measurement's ``xdist_lock_wait``."""
    locks = [p for p in session.probes_for(item, measurement) if isinstance(p, TimingLockProbe)]
    before = measurement.extra.get("xdist_lock_wait")
    for lock in locks:
        lock.start()
    try:
        yield
    finally:
        for lock in reversed(locks):
            lock.stop(measurement)
        if locks and isinstance(before, (int, float)):
            measurement.extra["xdist_lock_wait"] = round(before + sum(lock.waited for lock in locks), 6)


def workload_of(
    session: CausalEvalSession, item: pytest.Item, measurement: Measurement
) -> Callable[[], Any] | None:
    """The workload ``causal_bench(fn)`` measured, kept by the test's store (None for the others)."""
    store = session.stores.get(item.nodeid)
    return store.workloads.get(measurement.name) if store is not None else None


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
    with _timing_lock(session, item, measurement):
        outcome = Runner(config, session.timer).run(workload)
    reading = read_window(sampler, begun) if sampler is not None else None
    if reading is not None:
        measurement.extra[LOAD_EXTRA_KEY] = pooled(measurement.extra.get(LOAD_EXTRA_KEY), reading)
    measurement.samples = [*measurement.samples, *outcome.per_iteration_seconds()]
    measurement.cpu_samples = [*measurement.cpu_samples, *outcome.per_iteration_cpu_seconds()]


def remeasure_if_busy(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    entry: Mapping[str, Any] | None,
    config: GateConfig,
    comparisons: list[Comparison],
    extra_passes: int,
    busy_passes: int,
) -> list[Comparison]:
    """Measure afresh while a time regression is inconclusive because other processes used the
    load limit's share of the CPUs (``config.max_foreign_load``), at most ``busy_passes`` times;
    each pass is judged like the first (statistics, re-measuring an undecided one, the load rule)
    and its comparisons are returned."""
    limit = config.max_foreign_load
    workload = workload_of(session, item, measurement)
    shares: list[float | None] = []
    while (
        len(shares) < busy_passes
        and workload is not None
        and measurement.mode == "auto"
        and _inconclusive_under_load(comparisons, measurement.extra.get(LOAD_EXTRA_KEY), limit)
    ):
        shares.append(foreign_share(measurement.extra.get(LOAD_EXTRA_KEY)))
        comparisons = judge_afresh(session, item, measurement, workload, entry, config, extra_passes)
    if shares:
        REMEASURED_UNDER_LOAD.put(measurement, {"passes": len(shares), "foreign_shares": shares})
    return comparisons


def judge_afresh(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    workload: Callable[[], Any],
    entry: Mapping[str, Any] | None,
    config: GateConfig,
    extra_passes: int,
) -> list[Comparison]:
    """One fresh pass (``measure_afresh``) judged like the first: the statistics, re-measuring an
    undecided one (``extra_passes``), the foreign-load rule."""
    limit = config.max_foreign_load
    measure_afresh(session, item, measurement, workload, limit)
    comparisons = judge(measurement, entry, config)
    comparisons = remeasure_if_undecided(session, item, measurement, entry, config, comparisons, extra_passes)
    return judge_under_load(comparisons, measurement.extra.get(LOAD_EXTRA_KEY), limit)


def _inconclusive_under_load(comparisons: list[Comparison], load: Any, limit: float | None) -> bool:
    return bool(busy_reason(load, limit)) and any(
        c.metric == "time" and c.verdict == "inconclusive" and c.reason for c in comparisons
    )


def measure_afresh(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    workload: Callable[[], Any],
    limit: float | None,
) -> None:
    """One fresh measuring pass of ``workload`` that replaces the measurement's rounds, their load
    reading (read over this pass alone) and what follows from them (the throughput, the health's
    CPU judgement). No warm-up: the workload has just run its warm-up and rounds."""
    from pytest_causal_eval.environment.health import quick_health

    config = dataclasses.replace(session.runner_config(item), warmup=0.0)
    sampler = session.config.hook.pytest_causal_eval_load_sampler(config=session.config)
    begun = sampler.begin() if sampler is not None else None
    with _timing_lock(session, item, measurement):
        outcome = Runner(config, session.timer).run(workload)
    reading = read_window(sampler, begun) if sampler is not None else None
    measurement.extra[LOAD_EXTRA_KEY] = (
        reading.to_dict() if reading is not None else {"unread": "the CPU time counters gave no reading"}
    )
    measurement.samples = outcome.per_iteration_seconds()
    measurement.cpu_samples = outcome.per_iteration_cpu_seconds()
    measurement.iterations = outcome.iterations
    measurement.extra.pop(REMEASURED.name, None)  # the rounds earlier passes pooled were replaced too
    stats = measurement.stats
    if measurement.items is not None and stats is not None and stats.median > 0:
        measurement.add_metric(
            Metric("throughput", measurement.items / stats.median, unit="items/s", better="higher")
        )
    health = HEALTH.get(measurement)
    if health is not None:
        rejudged = MeasurementHealth.from_dict(
            quick_health(
                health.to_dict(),
                health.load_avg_1m,
                reading.cpus if reading is not None else (os.cpu_count() or 1),
                load=measurement.extra[LOAD_EXTRA_KEY],
                max_foreign_load=limit if limit is not None else DEFAULT_MAX_FOREIGN_LOAD,
            )
        )
        if rejudged is not None:
            HEALTH.put(measurement, rejudged)
