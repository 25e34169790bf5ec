"""Pooling the measurements of one id taken in several processes into one (pure: no I/O).

Time samples (seconds per iteration per round) are concatenated in run order: every round of every
run is an observation of the same code. A metric with per-round samples keeps them all; a metric
with one value per run gets the median of the runs' values, and those values become its samples
once there are at least three runs (fewer cannot carry a spread). The foreign load read during
each run's timed rounds (``extra['load']``) is pooled weighted by the seconds each reading covered,
so the load rule judges the side over all the rounds it pooled.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from typing import Any

from pytest_causal_eval.extra_keys import PASSED
from pytest_causal_eval.measure.load import LOAD_EXTRA_KEY, pool_recorded
from pytest_causal_eval.results import Measurement, Metric

__all__ = ["pool_measurements", "run_medians"]


def _pool_metric(metrics: Sequence[Metric]) -> Metric:
    first = metrics[0]
    if len(metrics) == 1:
        return dataclasses.replace(first, samples=list(first.samples) if first.samples else None)
    values = [m.value for m in metrics]
    samples: list[float] | None = None
    if all(m.samples for m in metrics):
        samples = [v for m in metrics for v in (m.samples or [])]
    elif len(values) >= 3:
        samples = list(values)
    return Metric(
        name=first.name,
        value=float(statistics.median(values)),
        unit=first.unit,
        better=first.better,
        samples=samples,
    )


def pool_measurements(runs: Sequence[Measurement]) -> Measurement:
    """One measurement from the same id measured in several runs (the first run's identity kept).

    ``extra`` is the first run's, plus ``pooled_runs`` (how many), ``passed`` (all runs passed) and
    ``load`` (the runs' readings pooled).
    """
    if not runs:
        raise ValueError("nothing to pool")
    first = runs[0]
    if len(runs) == 1:
        return dataclasses.replace(first, extra=dict(first.extra), metrics=dict(first.metrics))
    names: list[str] = []
    for m in runs:
        names.extend(n for n in m.metrics if n not in names)
    metrics = {n: _pool_metric([m.metrics[n] for m in runs if n in m.metrics]) for n in sorted(names)}
    extra: dict[str, Any] = dict(first.extra)
    extra["pooled_runs"] = len(runs)
    load = pool_recorded([m.extra.get(LOAD_EXTRA_KEY) for m in runs])
    if load is not None:
        extra[LOAD_EXTRA_KEY] = load
    else:
        extra.pop(LOAD_EXTRA_KEY, None)
    passed = [PASSED.get(m) for m in runs]
    if any(p is not None for p in passed):
        extra[PASSED.name] = PASSED.encode(all(p is True for p in passed))
    return dataclasses.replace(
        first,
        samples=[v for m in runs for v in m.samples],
        cpu_samples=[v for m in runs for v in m.cpu_samples],
        metrics=metrics,
        extra=extra,
        duration=sum(m.duration for m in runs),
    )


def run_medians(runs: Sequence[Measurement]) -> list[float]:
    """The median time per iteration of each run that has samples."""
    return [float(statistics.median(m.samples)) for m in runs if m.samples]
