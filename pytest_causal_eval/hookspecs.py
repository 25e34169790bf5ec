"""Hooks that pytest-causal-eval calls; implement them in a conftest.py or a plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.measure.load import LoadSampler
    from pytest_causal_eval.measure.timer import Timer
    from pytest_causal_eval.results import Measurement, RunResults


@pytest.hookspec(firstresult=True)
def pytest_causal_eval_timer(config: pytest.Config) -> Timer | None:
    """Return the clock pair to measure with (tests inject a fake one); None keeps perf_counter_ns."""


@pytest.hookspec(firstresult=True)
def pytest_causal_eval_load_sampler(config: pytest.Config) -> LoadSampler | None:
    """Return what reads other processes' CPU use during the timed rounds (tests inject fixed
    shares); None keeps the system's CPU counters (``environment.load.CpuTimesSampler``)."""


@pytest.hookspec
def pytest_causal_eval_after_measure(
    item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]
) -> None:
    """Called after a measurement's timed rounds with an untimed callable that runs the workload once."""


@pytest.hookspec
def pytest_causal_eval_after_measure_async(
    item: pytest.Item, measurement: Measurement, workload: Callable[[], Awaitable[Any]]
) -> Awaitable[None] | None:
    """``pytest_causal_eval_after_measure`` for a measurement taken inside a running event loop
    (``causal_bench.aio``): ``workload`` is a coroutine function that runs the workload once,
    untimed. Return an awaitable (or None): the bench awaits each in that same loop, in hook order."""


@pytest.hookspec
def pytest_causal_eval_judge(item: pytest.Item, measurement: Measurement) -> list[str] | None:
    """Judge a finished measurement at the end of its test; returned messages fail the test."""


@pytest.hookspec
def pytest_causal_eval_explain(
    item: pytest.Item,
    measurement: Measurement,
    baseline: Measurement | None,
    workload: Callable[[], Any] | None,
    metric: str,
) -> list[str] | None:
    """Explain one regressed quantity of a measurement (``metric``: "time", "rss_growth", ...) with
    profile diffs and artifact paths; the lines go into the failure message. Called once per
    regressed quantity; an implementation may leave out any argument it does not use."""


@pytest.hookspec
def pytest_causal_eval_session_results(config: pytest.Config, results: RunResults) -> None:
    """Called once, on the controller, with every measurement of the run (xdist workers' too).
    Features add what they know to ``results.environment`` and ``results.extra`` here."""


@pytest.hookspec(firstresult=True)
def pytest_causal_eval_baseline_entries(
    config: pytest.Config,
) -> tuple[Mapping[str, Mapping[str, Any]], Path] | None:
    """The stored entries of the baseline this run was compared with, by measurement id, and its
    file (the baseline feature answers; None when none was compared)."""


@pytest.hookspec(firstresult=True)
def pytest_causal_eval_summary_table(results: RunResults, width: int) -> list[str] | None:
    """The lines of the results table in the terminal summary, at most ``width`` columns wide (the
    report feature answers)."""
