"""``causal_bench``: the object a test uses to measure workloads.

``InertBench`` is what a test gets when the plugin is off: every workload runs exactly once, so a
benchmark suite doubles as a fast correctness test. ``CausalBench`` measures when it is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import numbers
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_causal_eval.extra_info import ExtraInfo, extra_info_problem
from pytest_causal_eval.measure.memory import PeakRSS, python_peak_steps
from pytest_causal_eval.measure.passes import LoopWorkload, drive_async, drive_workload
from pytest_causal_eval.measure.runner import Runner, RunOutcome, _split_setup_result, pedantic_call
from pytest_causal_eval.results import BETTER_VALUES, Measurement, Metric
from pytest_causal_eval.stats.fixture_view import FixtureStats, fixture_stats

if TYPE_CHECKING:
    from pytest_causal_eval.measure.instructions import InstructionCount
    from pytest_causal_eval.measure.probes import Probe
    from pytest_causal_eval.measure.runner import RunnerConfig
    from pytest_causal_eval.measure.timer import Timer
    from pytest_causal_eval.options import Settings

__all__ = ["BenchSession", "CausalBench", "InertBench", "InstructionCounting", "TestMeasurements"]


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


#: A calibrated measurement that spent its time budget in fewer rounds is said so in the summary.
FEW_ROUNDS = 10
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


class _FixtureSurface:
    """What the measuring and the inert fixture share, so that a test behaves the same with the
    plugin on and off: ``items``, ``group``, ``extra_info``, ``name``/``fullname``, ``disabled``,
    ``stats``, ``weave``, and the refusal of a second measurement under one name."""

    enabled: bool = False
    _items: int | None = None
    _group: str | None = None
    _key: str = ""
    _item: pytest.Item | None = None
    _store: TestMeasurements

    @property
    def items(self) -> int | None:
        """Items one call of the workload processes; derives ``throughput`` (items/s)."""
        return self._items

    @items.setter
    def items(self, value: Any) -> None:
        self._items = _check_items(value, "causal_bench.items")

    @property
    def group(self) -> str | None:
        """The report group: set here, else ``@pytest.mark.causal_eval(group=...)``."""
        if self._group is not None:
            return self._group
        return _marker_group(self._item) if self._item is not None else None

    @group.setter
    def group(self, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            pytest.fail(
                f"causal_bench.group: expected a non-empty string or None, got {value!r}", pytrace=False
            )
        self._group = value

    @property
    def extra_info(self) -> ExtraInfo:
        """Strings and numbers stored with this test's measurements and shown in reports."""
        return self._store.extra_info

    @extra_info.setter
    def extra_info(self, value: Any) -> None:
        """Assigning a dict replaces the entries, as on pytest-benchmark's plain dict attribute;
        every entry is checked before any is replaced."""
        if not isinstance(value, Mapping):
            pytest.fail(
                "causal_bench.extra_info: expected a dict of strings and numbers, "
                f"got {type(value).__name__}",
                pytrace=False,
            )
        for key, item in value.items():
            problem = extra_info_problem(key, item)
            if problem is not None:
                pytest.fail(f"causal_bench.{problem}", pytrace=False)
        self._store.extra_info.clear()
        self._store.extra_info.update(value)

    @property
    def name(self) -> str:
        """The test's name (``test_x[param]``), plus ``::name`` for a ``named`` measurement."""
        base = self._item.name if self._item is not None else ""
        return f"{base}::{self._key}" if self._key else base

    @property
    def fullname(self) -> str:
        """The test's node id, plus ``::name`` for a ``named`` measurement (the measurement's id)."""
        base = self._item.nodeid if self._item is not None else ""
        return f"{base}::{self._key}" if self._key else base

    @property
    def disabled(self) -> bool:
        """True when workloads run once, unmeasured (the plugin is off)."""
        return not self.enabled

    @property
    def stats(self) -> FixtureStats | None:
        """After the call, the statistics in pytest-benchmark's shape (``stats["median"]``,
        ``stats.stats.median``); None before it and when the plugin is off."""
        measurement = self._store.by_name.get(self._key)
        if measurement is None or not measurement.samples:
            return None
        return FixtureStats(fixture_stats(measurement.samples), self.name, self.fullname, measurement.group)

    def weave(self, target: Any, **kwargs: Any) -> Any:
        """pytest-benchmark's aspectlib weaving: not supported."""
        pytest.fail(_WEAVE, pytrace=False)

    patch = weave

    def _claim(self) -> None:
        """One measurement per name: a second call under the same name fails, on or off."""
        if self._key in self._store.timed:
            label = f"measurement {self._key!r}" if self._key else "the unnamed measurement"
            pytest.fail(
                f"causal_bench: {label} of this test was already taken; use "
                "causal_bench.named('...') for several measurements in one test",
                pytrace=False,
            )


_WEAVE = (
    "causal_bench.weave/patch (pytest-benchmark's aspectlib weaving) is not supported: "
    "call causal_bench(fn, ...) on the function to time"
)


@dataclass
class TestMeasurements:
    """The measurements one test made, by name ("" is the unnamed one)."""

    test_id: str
    params: dict[str, str]
    by_name: dict[str, Measurement] = field(default_factory=dict)
    timed: set[str] = field(default_factory=set)
    workloads: dict[str, Callable[[], Any]] = field(default_factory=dict)
    extra_info: ExtraInfo = field(default_factory=ExtraInfo)

    def get(self, name: str) -> Measurement:
        m = self.by_name.get(name)
        if m is None:
            mid = self.test_id if not name else f"{self.test_id}::{name}"
            m = Measurement(id=mid, test_id=self.test_id, name=name, params=dict(self.params))
            self.by_name[name] = m
        return m


class InstructionCounting(Protocol):
    """Instruction mode's counting (``instructions.plugin.InstructionPlugin``), as the bench uses it."""

    def count(
        self,
        item: pytest.Item,
        label: str,
        fn: Callable[[], Any],
        *,
        calls: int = 1,
        prepare: Callable[[], Callable[[], Any]] | None = None,
    ) -> tuple[Any, InstructionCount]: ...

    def count_private_loop(
        self, item: pytest.Item, label: str, coro_fn: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, InstructionCount]: ...

    async def count_in_loop(
        self, item: pytest.Item, label: str, coro_fn: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, InstructionCount]: ...

    def record(self, measurement: Measurement, counted: InstructionCount, policy: str) -> None: ...


class BenchSession(Protocol):
    """What ``CausalBench`` needs from the run it measures for (the session implements it)."""

    instructions: InstructionCounting | None  # instruction mode: count instead of timing

    @property
    def counts_instructions(self) -> bool: ...

    @property
    def settings(self) -> Settings: ...

    def runner_config(self, item: pytest.Item) -> RunnerConfig: ...

    def timer_for(self, item: pytest.Item) -> Timer: ...

    def probes_for(self, item: pytest.Item, measurement: Measurement) -> list[Probe]: ...

    def after_measure(
        self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]
    ) -> None: ...

    async def after_measure_async(
        self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Awaitable[Any]]
    ) -> None: ...


class InertBench(_FixtureSurface):
    """The plugin is off: run each workload once and return its result."""

    enabled = False

    def __init__(
        self, item: pytest.Item | None = None, key: str = "", store: TestMeasurements | None = None
    ) -> None:
        self._item = item
        self._key = key
        self._store = store if store is not None else TestMeasurements(test_id="", params={})

    def _done(self, result: Any) -> Any:
        """The workload returned: its name is taken (an exception leaves it free, as when measuring)."""
        self._store.timed.add(self._key)
        return result

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench")
        self._claim()
        return self._done(fn(*args, **kwargs))

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
        teardown: Callable[..., Any] | None = None,
    ) -> Any:
        _check_callable(target, "causal_bench.pedantic")
        _check_pedantic(rounds, warmup_rounds, iterations, setup)
        if items is not None:
            self._items = _check_items(items, "causal_bench.pedantic(items=...)")
        if teardown is not None:
            _check_callable(teardown, "causal_bench.pedantic(teardown=...)")
        self._claim()
        round_setup, finish = _teardown_rounds(tuple(args), dict(kwargs or {}), setup, teardown)
        result = pedantic_call(target, tuple(args), dict(kwargs or {}), round_setup)()
        finish()
        return self._done(result)

    def async_(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench.async_")
        _refuse_running_loop()
        self._claim()
        return self._done(asyncio.run(_await(fn(*args, **kwargs))))

    async def aio(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        _check_callable(fn, "causal_bench.aio")
        self._claim()
        return self._done(await fn(*args, **kwargs))

    def named(self, name: str, *, items: int | None = None, group: str | None = None) -> InertBench:
        bench = InertBench(self._item, _check_name(name), self._store)
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


class CausalBench(_FixtureSurface):
    """Measures workloads when the plugin is on. See README for the full API."""

    enabled = True

    def __init__(
        self, session: BenchSession, item: pytest.Item, store: TestMeasurements, name: str = ""
    ) -> None:
        self._session = session
        self._item = item
        self._test = item
        self._store = store
        self._key = name
        self._rss: PeakRSS | None = None
        self._probes: list[Probe] = []

    # -- public API --------------------------------------------------------------------------------
    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Measure ``fn(*args, **kwargs)`` with calibrated rounds; return its result."""
        _check_callable(fn, "causal_bench")
        call = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        counting = self._session.instructions
        if counting is not None:
            return self._count("auto", lambda label: counting.count(self._test, label, call), call)
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
        teardown: Callable[..., Any] | None = None,
    ) -> Any:
        """pytest-benchmark's pedantic mode: exactly ``rounds`` x ``iterations``; ``setup`` before and
        ``teardown`` (called with the round's arguments) after each round, both untimed."""
        _check_callable(target, "causal_bench.pedantic")
        _check_pedantic(rounds, warmup_rounds, iterations, setup)
        if items is not None:
            self._items = _check_items(items, "causal_bench.pedantic(items=...)")
        if teardown is not None:
            _check_callable(teardown, "causal_bench.pedantic(teardown=...)")
        call_args, call_kwargs = tuple(args), dict(kwargs or {})
        runner = self._runner()

        counting = self._session.instructions
        if counting is not None:
            bound = pedantic_call(target, call_args, call_kwargs, None)

            def prepared() -> Callable[[], Any]:
                return pedantic_call(target, call_args, call_kwargs, setup)

            return self._count(
                "pedantic",
                lambda label: counting.count(
                    self._test,
                    label,
                    bound,
                    calls=1 if setup is not None else iterations,
                    prepare=prepared if setup is not None else None,
                ),
                lambda: pedantic_call(target, call_args, call_kwargs, setup)(),
            )

        def run() -> RunOutcome:
            round_setup, finish = _teardown_rounds(call_args, call_kwargs, setup, teardown)
            outcome = runner.run_pedantic(
                target, call_args, call_kwargs, round_setup, rounds, iterations, warmup_rounds
            )
            finish()
            return outcome

        def workload() -> Any:
            round_setup, finish = _teardown_rounds(call_args, call_kwargs, setup, teardown)
            result = pedantic_call(target, call_args, call_kwargs, round_setup)()
            finish()
            return result

        return self._measure("pedantic", run, workload)

    def async_(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Measure a coroutine function on a private event loop (from a synchronous test)."""
        _check_callable(fn, "causal_bench.async_")
        _refuse_running_loop()
        coro_fn = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        counting = self._session.instructions
        if counting is not None:
            return self._count(
                "async",
                lambda label: counting.count_private_loop(self._test, label, coro_fn),
                LoopWorkload(coro_fn),
            )
        runner = self._runner()
        # its passes (profiles, python_peak) run in one private loop, as the timed rounds did
        return self._measure("async", lambda: runner.run_async(coro_fn), LoopWorkload(coro_fn))

    async def aio(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Measure a coroutine function inside the running event loop (from an async test)."""
        _check_callable(fn, "causal_bench.aio")
        coro_fn = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        counting = self._session.instructions
        if counting is not None:
            started = self._begin()
            try:
                result, counted = await counting.count_in_loop(self._test, self._label(), coro_fn)
            except BaseException:
                self._abort(started)
                raise
            self._finish_count(started, "async", counted, None)
            await self._after_async(coro_fn, python_peak=False)
            return result
        runner = self._runner()
        started = await self._begin_async()
        try:
            outcome = await runner.run_async_in_loop(coro_fn)
        except BaseException:
            self._abort(started)
            raise
        self._finish(started, "async", outcome, None)
        await self._after_async(coro_fn, python_peak=self._session.settings.tracemalloc)
        return outcome.result

    async def _after_async(self, coro_fn: Callable[[], Awaitable[Any]], *, python_peak: bool) -> None:
        """The untimed passes of an ``aio`` measurement (python_peak, the features' profiles),
        awaited in the running loop as the timed rounds were."""
        measurement = self._store.get(self._key)
        if python_peak:
            peak = await drive_async(python_peak_steps(), coro_fn)
            measurement.add_metric(Metric("python_peak", float(peak), unit="B", better="lower"))
        # kept for explaining a regression after the test, in this loop while it is open and idle
        self._store.workloads[self._key] = LoopWorkload(
            coro_fn, asyncio.get_running_loop(), contextvars.copy_context()
        )
        await self._session.after_measure_async(self._test, measurement, coro_fn)

    def named(self, name: str, *, items: int | None = None, group: str | None = None) -> CausalBench:
        """A handle for a second (third, ...) measurement in the same test, reported as ``test::name``."""
        bench = CausalBench(self._session, self._test, self._store, _check_name(name))
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
        """Attach a custom metric (accuracy, questions/s, ...) with its direction to this measurement.

        In instruction mode a wall-time metric (unit s, ms, us, ns or a rate per second) is not
        recorded: taken under valgrind it measures valgrind; ``extra["not_recorded"]`` names it."""
        _validate_metric(name, value, better)
        measurement = self._store.get(self._key)
        if self._session.counts_instructions and _is_wall_time_unit(unit):
            measurement.extra.setdefault("not_recorded", {})[name] = (
                "a wall-time metric: not recorded in instruction mode (the code ran under valgrind)"
            )
            return
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
        self._config = self._session.runner_config(self._test)
        return Runner(
            self._config,
            self._session.timer_for(self._test),
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
        self._claim()
        measurement = self._store.get(self._key)
        probes = self._session.probes_for(self._test, measurement)
        for probe in probes:
            probe.start()
        return self._started(probes)

    async def _begin_async(self) -> tuple[float, PeakRSS, list[Probe]]:
        """``_begin`` inside the running event loop: a probe that can wait without blocking the
        loop (the xdist timing lock) does so."""
        self._claim()
        measurement = self._store.get(self._key)
        probes = self._session.probes_for(self._test, measurement)
        for i, probe in enumerate(probes):
            start_async = getattr(probe, "start_async", None)
            try:
                if start_async is not None:
                    await start_async()
                else:
                    probe.start()
            except BaseException:
                for started in reversed(probes[:i]):
                    with contextlib.suppress(Exception):
                        started.stop(measurement)
                raise
        return self._started(probes)

    def _started(self, probes: list[Probe]) -> tuple[float, PeakRSS, list[Probe]]:
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

    def _label(self) -> str:
        return self._store.get(self._key).id

    def _count(
        self,
        mode: str,
        count: Callable[[str], tuple[Any, InstructionCount]],
        workload: Callable[[], Any] | None,
    ) -> Any:
        """Instruction mode: count the workload instead of timing it (see ``instructions.plugin``)."""
        started = self._begin()
        try:
            result, counted = count(self._label())
        except BaseException:
            self._abort(started)
            raise
        self._finish_count(started, mode, counted, workload)
        return result

    def _finish_count(
        self,
        started: tuple[float, PeakRSS, list[Probe]],
        mode: str,
        counted: InstructionCount,
        workload: Callable[[], Any] | None,
    ) -> None:
        t_start, _rss, probes = started
        measurement = self._store.get(self._key)
        for probe in reversed(probes):
            probe.stop(measurement)
        self._store.timed.add(self._key)
        measurement.mode = mode
        measurement.group = self.group or _marker_group(self._test)
        measurement.items = self.items
        counting = self._session.instructions
        assert counting is not None
        counting.record(measurement, counted, self._session.runner_config(self._test).gc)
        measurement.duration = time.perf_counter() - t_start
        if workload is not None:
            self._store.workloads[self._key] = workload
            self._session.after_measure(self._test, measurement, workload)

    def _abort(self, started: tuple[float, PeakRSS, list[Probe]]) -> None:
        """The workload raised: release probes (locks, counters) and forget the measurement."""
        measurement = self._store.get(self._key)
        for probe in reversed(started[2]):
            with contextlib.suppress(Exception):
                probe.stop(measurement)
        if self._key not in self._store.timed and not measurement.metrics:
            self._store.by_name.pop(self._key, None)

    def _finish(
        self,
        started: tuple[float, PeakRSS, list[Probe]],
        mode: str,
        outcome: RunOutcome,
        workload: Callable[[], Any] | None,
    ) -> None:
        t_start, rss, probes = started
        measurement = self._store.get(self._key)
        peak_rss = rss.peak()
        for probe in reversed(probes):
            probe.stop(measurement)
        self._store.timed.add(self._key)
        measurement.mode = mode
        measurement.group = self.group
        measurement.items = self.items
        measurement.samples = outcome.per_iteration_seconds()
        measurement.cpu_samples = outcome.per_iteration_cpu_seconds()
        measurement.iterations = outcome.iterations
        measurement.warmup_rounds = outcome.warmup_rounds
        measurement.calibration = dict(outcome.calibration)
        measurement.gc = outcome.gc
        config = getattr(self, "_config", None)
        if mode in ("auto", "async") and config is not None:
            # a calibrated run ends at max_rounds or when the time budget is spent (min_rounds first)
            rounds = len(outcome.samples_ns)
            if rounds < min(FEW_ROUNDS, config.max_rounds):
                measurement.extra["budget_limited"] = {"rounds": rounds, "max_time": config.max_time}
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
            peak = drive_workload(lambda _in_loop: python_peak_steps(), workload)
            measurement.add_metric(Metric("python_peak", float(peak), unit="B", better="lower"))
        measurement.duration = time.perf_counter() - t_start
        if workload is not None:
            self._store.workloads[self._key] = workload
            self._session.after_measure(self._test, measurement, workload)


def _is_wall_time_unit(unit: str) -> bool:
    return unit in ("s", "ms", "us", "µs", "ns") or unit.endswith("/s")


def _marker_group(item: pytest.Item) -> str | None:
    from pytest_causal_eval.markers import item_markers

    return item_markers(item).group


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


def _teardown_rounds(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    setup: Callable[[], Any] | None,
    teardown: Callable[..., Any] | None,
) -> tuple[Callable[[], Any] | None, Callable[[], None]]:
    """pytest-benchmark's ``teardown``, run untimed after each round with that round's arguments:
    a setup that first tears the previous round down, and ``finish`` for the last round."""
    if teardown is None:
        return setup, lambda: None
    pending: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def finish() -> None:
        while pending:
            a, k = pending.pop()
            teardown(*a, **k)

    def round_setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        finish()
        provided = setup() if setup is not None else None
        round_args = (args, kwargs) if provided is None else _split_setup_result(provided)
        pending.append(round_args)
        return round_args

    return round_setup, finish


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
