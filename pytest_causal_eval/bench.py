"""``causal_bench``: the object a test uses to measure workloads.

``InertBench`` is what a test gets when the plugin is off: every workload runs exactly once, so a
benchmark suite doubles as a fast correctness test. ``CausalBench`` measures when it is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import numbers
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_causal_eval.measure.memory import PeakRSS, python_peak_bytes
from pytest_causal_eval.measure.runner import Runner, RunOutcome, pedantic_call
from pytest_causal_eval.results import BETTER_VALUES, Measurement, Metric

if TYPE_CHECKING:
    from pytest_causal_eval.measure.probes import Probe
    from pytest_causal_eval.measure.runner import RunnerConfig
    from pytest_causal_eval.measure.timer import Timer
    from pytest_causal_eval.options import Settings

__all__ = ["BenchSession", "CausalBench", "InertBench", "TestMeasurements"]


def _check_callable(fn: Any, what: str) -> None:
    if not callable(fn):
        pytest.fail(f"{what}: expected a callable to measure, got {type(fn).__name__} {fn!r}", pytrace=False)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "\n\r\t"):
        pytest.fail(
            f"causal_bench.named: a measurement name must be a non-empty one-line string, got {name!r}",
            pytrace=False,
        )
    return name.strip()


MAX_ITEMS = 2**53  # the largest count a float (the throughput) still holds exactly


def _check_items(value: Any, where: str) -> int | None:
    """``items`` is how many items one call of the workload processes: a whole number from 1 to
    2**53, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= MAX_ITEMS:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        pytest.fail(
            f"{where}: expected a whole number from 1 to 2**53 (the items one call processes, for "
            f"throughput) or None, got {shown}",
            pytrace=False,
        )
    return int(value)


class _ItemsAttribute:
    """``items`` and ``group``, shared by the measuring and the inert fixture so that a value one of
    them refuses the other refuses too."""

    _items: int | None = None
    group: str | None = None

    @property
    def items(self) -> int | None:
        """Items one call of the workload processes; derives ``throughput`` (items/s)."""
        return self._items

    @items.setter
    def items(self, value: Any) -> None:
        self._items = _check_items(value, "causal_bench.items")


@dataclass
class TestMeasurements:
    """The measurements one test made, by name ("" is the unnamed one)."""

    test_id: str
    params: dict[str, str]
    by_name: dict[str, Measurement] = field(default_factory=dict)
    timed: set[str] = field(default_factory=set)
    workloads: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def get(self, name: str) -> Measurement:
        m = self.by_name.get(name)
        if m is None:
            mid = self.test_id if not name else f"{self.test_id}::{name}"
            m = Measurement(id=mid, test_id=self.test_id, name=name, params=dict(self.params))
            self.by_name[name] = m
        return m


class BenchSession(Protocol):
    """What ``CausalBench`` needs from the run it measures for (the session implements it)."""

    @property
    def settings(self) -> Settings: ...

    def runner_config(self, item: pytest.Item) -> RunnerConfig: ...

    def timer_for(self, item: pytest.Item) -> Timer: ...

    def probes_for(self, item: pytest.Item, measurement: Measurement) -> list[Probe]: ...

    def after_measure(
        self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]
    ) -> None: ...


class InertBench(_ItemsAttribute):
    """The plugin is off: run each workload once and return its result."""

    enabled = False

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench")
        return fn(*args, **kwargs)

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
        items: int | None = None,
    ) -> Any:
        _check_callable(target, "causal_bench.pedantic")
        _check_pedantic(rounds, warmup_rounds, iterations, setup)
        _check_items(items, "causal_bench.pedantic(items=...)")
        return pedantic_call(target, tuple(args), dict(kwargs or {}), setup)()

    def async_(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench.async_")
        _refuse_running_loop()
        return asyncio.run(_await(fn(*args, **kwargs)))

    async def aio(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench.aio")
        return await fn(*args, **kwargs)

    def named(self, name: str, *, items: int | None = None, group: str | None = None) -> InertBench:
        bench = InertBench(_check_name(name))
        bench._items = _check_items(items, f"causal_bench.named({name!r}, items=...)")
        bench.group = group
        return bench

    def record(
        self,
        name: str,
        value: float,
        unit: str = "",
        better: str = "lower",
        samples: list[float] | None = None,
    ) -> None:
        _validate_metric(name, value, better)


class CausalBench(_ItemsAttribute):
    """Measures workloads when the plugin is on. See README for the full API."""

    enabled = True

    def __init__(
        self, session: BenchSession, item: pytest.Item, store: TestMeasurements, name: str = ""
    ) -> None:
        self._session = session
        self._item = item
        self._store = store
        self.name = name
        self._rss: PeakRSS | None = None
        self._probes: list[Probe] = []

    # -- public API --------------------------------------------------------------------------------
    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Measure ``fn(*args, **kwargs)`` with calibrated rounds; return its result."""
        _check_callable(fn, "causal_bench")
        call = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        runner = self._runner()
        return self._measure("auto", lambda: runner.run(call), call)

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
        items: int | None = None,
    ) -> Any:
        """pytest-benchmark's pedantic mode: exactly ``rounds`` x ``iterations``, ``setup`` untimed."""
        _check_callable(target, "causal_bench.pedantic")
        _check_pedantic(rounds, warmup_rounds, iterations, setup)
        if items is not None:
            self._items = _check_items(items, "causal_bench.pedantic(items=...)")
        call_args, call_kwargs = tuple(args), dict(kwargs or {})
        runner = self._runner()

        return self._measure(
            "pedantic",
            lambda: runner.run_pedantic(
                target, call_args, call_kwargs, setup, rounds, iterations, warmup_rounds
            ),
            lambda: pedantic_call(target, call_args, call_kwargs, setup)(),
        )

    def async_(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Measure a coroutine function on a private event loop (from a synchronous test)."""
        _check_callable(fn, "causal_bench.async_")
        _refuse_running_loop()
        coro_fn = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        runner = self._runner()
        return self._measure(
            "async", lambda: runner.run_async(coro_fn), lambda: asyncio.run(_await(coro_fn()))
        )

    async def aio(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Measure a coroutine function inside the running event loop (from an async test)."""
        _check_callable(fn, "causal_bench.aio")
        coro_fn = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        runner = self._runner()
        started = self._begin()
        try:
            outcome = await runner.run_async_in_loop(coro_fn)
        except BaseException:
            self._abort(started)
            raise
        self._finish(started, "async", outcome, None)
        return outcome.result

    def named(self, name: str, *, items: int | None = None, group: str | None = None) -> CausalBench:
        """A handle for a second (third, ...) measurement in the same test, reported as ``test::name``."""
        bench = CausalBench(self._session, self._item, self._store, _check_name(name))
        bench._items = _check_items(items, f"causal_bench.named({name!r}, items=...)")
        bench.group = group
        return bench

    def record(
        self,
        name: str,
        value: float,
        unit: str = "",
        better: str = "lower",
        samples: list[float] | None = None,
    ) -> None:
        """Attach a custom metric (accuracy, questions/s, ...) with its direction to this measurement."""
        _validate_metric(name, value, better)
        measurement = self._store.get(self.name)
        measurement.add_metric(
            Metric(
                name=name,
                value=float(value),
                unit=unit,
                better=better,  # type: ignore[arg-type]
                samples=[float(s) for s in samples] if samples is not None else None,
            )
        )

    # -- internals ---------------------------------------------------------------------------------
    def _runner(self) -> Runner:
        return Runner(
            self._session.runner_config(self._item),
            self._session.timer_for(self._item),
            on_timed_start=self._timed_start,
        )

    def _timed_start(self) -> None:
        """Right before the first timed round. RSS growth counts from here: warm-up and calibration
        absorb the one-time allocations (first imports, caches), which otherwise depend on what ran
        earlier in the process. Probes with ``timed_start`` (the foreign-load reading) start here."""
        if self._rss is not None:
            self._rss.start()
        for probe in self._probes:
            timed_start = getattr(probe, "timed_start", None)
            if timed_start is not None:
                timed_start()

    def _begin(self) -> tuple[float, PeakRSS, list[Probe]]:
        if self.name in self._store.timed:
            label = f"measurement {self.name!r}" if self.name else "the unnamed measurement"
            pytest.fail(
                f"causal_bench: {label} of this test was already taken; use "
                "causal_bench.named('...') for several measurements in one test",
                pytrace=False,
            )
        measurement = self._store.get(self.name)
        probes = self._session.probes_for(self._item, measurement)
        for probe in probes:
            probe.start()
        self._probes = probes
        rss = PeakRSS()
        rss.start()
        self._rss = rss
        return time.perf_counter(), rss, probes

    def _measure(self, mode: str, run: Callable[[], RunOutcome], workload: Callable[[], Any] | None) -> Any:
        started = self._begin()
        try:
            outcome = run()  # an exception from the workload propagates unchanged; nothing is recorded
        except BaseException:
            self._abort(started)
            raise
        self._finish(started, mode, outcome, workload)
        return outcome.result

    def _abort(self, started: tuple[float, PeakRSS, list[Probe]]) -> None:
        """The workload raised: release probes (locks, counters) and forget the measurement."""
        measurement = self._store.get(self.name)
        for probe in reversed(started[2]):
            with contextlib.suppress(Exception):
                probe.stop(measurement)
        if self.name not in self._store.timed and not measurement.metrics:
            self._store.by_name.pop(self.name, None)

    def _finish(
        self,
        started: tuple[float, PeakRSS, list[Probe]],
        mode: str,
        outcome: RunOutcome,
        workload: Callable[[], Any] | None,
    ) -> None:
        t_start, rss, probes = started
        measurement = self._store.get(self.name)
        peak_rss = rss.peak()
        for probe in reversed(probes):
            probe.stop(measurement)
        self._store.timed.add(self.name)
        measurement.mode = mode
        measurement.group = self.group or _marker_group(self._item)
        measurement.items = self.items
        measurement.samples = outcome.per_iteration_seconds()
        measurement.cpu_samples = outcome.per_iteration_cpu_seconds()
        measurement.iterations = outcome.iterations
        measurement.warmup_rounds = outcome.warmup_rounds
        measurement.calibration = dict(outcome.calibration)
        measurement.gc = outcome.gc
        # The process's absolute peak depends on everything that ran before in it (other tests, xdist
        # worker state); what this workload needed on top of the memory already held is what we gate.
        measurement.add_metric(
            Metric("rss_growth", float(max(0, peak_rss - rss.start_bytes)), unit="B", better="lower")
        )
        measurement.extra["peak_rss"] = peak_rss
        measurement.extra["peak_rss_exact"] = rss.exact
        stats = measurement.stats
        if self.items is not None and stats is not None and stats.median > 0:
            measurement.add_metric(
                Metric("throughput", self.items / stats.median, unit="items/s", better="higher")
            )
        if workload is not None and self._session.settings.tracemalloc:
            peak = python_peak_bytes(workload)
            measurement.add_metric(Metric("python_peak", float(peak), unit="B", better="lower"))
        measurement.duration = time.perf_counter() - t_start
        if workload is not None:
            self._store.workloads[self.name] = workload
            self._session.after_measure(self._item, measurement, workload)


def _marker_group(item: pytest.Item) -> str | None:
    from pytest_causal_eval.markers import marker_kwargs

    group = marker_kwargs(item).get("group")
    return str(group) if group is not None else None


def _validate_metric(name: Any, value: Any, better: Any) -> None:
    if not isinstance(name, str) or not name:
        pytest.fail(
            f"causal_bench.record: metric name must be a non-empty string, got {name!r}", pytrace=False
        )
    if better not in BETTER_VALUES:
        pytest.fail(
            f"causal_bench.record({name!r}): better must be 'lower' or 'higher', got {better!r}",
            pytrace=False,
        )
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != value
        or value in (float("inf"), float("-inf"))
    ):
        pytest.fail(
            f"causal_bench.record({name!r}): value must be a finite number, got {value!r}", pytrace=False
        )


def _check_pedantic(
    rounds: int, warmup_rounds: int, iterations: int, setup: Callable[[], Any] | None
) -> None:
    for label, value, low in (
        ("rounds", rounds, 1),
        ("iterations", iterations, 1),
        ("warmup_rounds", warmup_rounds, 0),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            pytest.fail(
                f"causal_bench.pedantic: {label} must be an integer >= {low}, got {value!r}", pytrace=False
            )
    if setup is not None and iterations > 1:
        pytest.fail(
            "causal_bench.pedantic: iterations must be 1 when a setup function is given "
            "(setup runs once per round)",
            pytrace=False,
        )


def _refuse_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    pytest.fail(
        "causal_bench.async_ runs its own event loop and cannot be called inside a running one; "
        "use `await causal_bench.aio(fn, ...)` in an async test",
        pytrace=False,
    )


async def _await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    raise TypeError(f"causal_bench.async_: the function must return an awaitable, got {type(value).__name__}")
