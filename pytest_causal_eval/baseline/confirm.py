"""A fresh pass before a time regression fails, and before a baseline is saved: the faster pass counts.

On a shared machine, noise comes in spells: a neighbour's burst, a host that runs the virtual CPU
1.5x slower for a second or two. A spell that covers a whole measuring pass moves every statistic of
its rounds, and no statistic of one pass can tell it from a regression. Two passes a moment apart
rarely both fall into one, and a spell only ever adds time, so the faster pass is the truer one:

- **judging** (``confirm_regression``): a measurement whose time regressed is measured afresh
  (``--causal-eval-confirm`` passes, default 1; the same runner settings, no warm-up). The fresh
  pass is judged like the first (the statistics, re-measuring an undecided one, the foreign-load
  rule); the faster of the passes (by the compared statistic) gives the verdict and keeps its
  rounds. A spell that slowed one pass cannot fail the test; a real regression shows in both.
- **saving** (``fastest_for_save``): each measurement a ``--causal-eval-save`` run stores is
  measured that many more times, and the fastest pass is saved. Users save a baseline once and
  compare against it for weeks: one saving session in a spell would make every later run look
  faster than it is and hide a real regression.

Only plain ``causal_bench(fn)`` measurements (mode ``auto``) are measured again: the plugin keeps
their workload. ``extra.confirmed`` records each pass's change (judging) or the compared statistic of
its time (saving), and which pass was kept.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_causal_eval.baseline.gate import GateConfig
from pytest_causal_eval.baseline.remeasure import judge_afresh, measure_afresh, workload_of
from pytest_causal_eval.extra_keys import CONFIRMED, HEALTH, REMEASURED
from pytest_causal_eval.measure.load import LOAD_EXTRA_KEY
from pytest_causal_eval.results import Measurement, Metric
from pytest_causal_eval.session import CausalEvalSession
from pytest_causal_eval.stats.compare import TIME_QUANTILE, Comparison, quantile_of

__all__ = ["confirm_regression", "fastest_for_save"]

_EXTRA_KEYS = (LOAD_EXTRA_KEY, REMEASURED.name, HEALTH.name)


@dataclass(frozen=True)
class _Pass:
    """What a measuring pass set on a measurement (``measure_afresh`` replaces all of it)."""

    samples: list[float]
    cpu_samples: list[float]
    iterations: int
    throughput: Metric | None
    extra: dict[str, Any]

    @classmethod
    def of(cls, m: Measurement) -> _Pass:
        return cls(
            samples=list(m.samples),
            cpu_samples=list(m.cpu_samples),
            iterations=m.iterations,
            throughput=m.metrics.get("throughput"),
            extra={k: copy.deepcopy(m.extra[k]) for k in _EXTRA_KEYS if k in m.extra},
        )

    def restore(self, m: Measurement) -> None:
        m.samples, m.cpu_samples, m.iterations = list(self.samples), list(self.cpu_samples), self.iterations
        if self.throughput is not None:
            m.metrics["throughput"] = self.throughput
        for key in _EXTRA_KEYS:
            if key in self.extra:
                m.extra[key] = self.extra[key]
            else:
                m.extra.pop(key, None)


def _time(comparisons: list[Comparison]) -> Comparison | None:
    return next((c for c in comparisons if c.metric == "time"), None)


def confirm_regression(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    entry: Mapping[str, Any] | None,
    config: GateConfig,
    comparisons: list[Comparison],
    passes: int,
    extra_passes: int,
) -> list[Comparison]:
    """Measure a time regression afresh, at most ``passes`` times; the comparisons of the fastest
    pass are returned and its rounds kept on the measurement (see the module text)."""
    first = _time(comparisons)
    workload = workload_of(session, item, measurement)
    if (
        passes < 1
        or first is None
        or first.verdict != "regressed"
        or workload is None
        or measurement.mode != "auto"
    ):
        return comparisons
    best, best_pass = comparisons, _Pass.of(measurement)
    changes = [first.change]
    for _ in range(passes):
        fresh = judge_afresh(session, item, measurement, workload, entry, config, extra_passes)
        fresh_time = _time(fresh)
        if fresh_time is None:
            break
        changes.append(fresh_time.change)
        if fresh_time.change < min(changes[:-1]):
            best, best_pass = fresh, _Pass.of(measurement)
        if fresh_time.verdict != "regressed":
            break  # one pass without the regression: it did not stand
    best_pass.restore(measurement)
    kept = changes.index(min(changes))
    CONFIRMED.put(measurement, {"passes": len(changes), "changes": changes, "kept": kept})
    return best


def fastest_for_save(
    session: CausalEvalSession,
    item: pytest.Item,
    measurement: Measurement,
    passes: int,
    max_foreign_load: float | None,
) -> None:
    """Measure ``passes`` more times what a save stores, and keep the fastest pass (by the
    statistic the time gate compares)."""
    workload = workload_of(session, item, measurement)
    if passes < 1 or workload is None or measurement.mode != "auto" or not measurement.samples:
        return
    best = _Pass.of(measurement)
    values = [quantile_of(measurement.samples, TIME_QUANTILE)]
    for _ in range(passes):
        measure_afresh(session, item, measurement, workload, max_foreign_load)
        if not measurement.samples:
            break
        values.append(quantile_of(measurement.samples, TIME_QUANTILE))
        if values[-1] < min(values[:-1]):
            best = _Pass.of(measurement)
    best.restore(measurement)
    CONFIRMED.put(measurement, {"passes": len(values), "times": values, "kept": values.index(min(values))})
