"""Warm-up, calibration and timed rounds.

The schedule (warm-up, calibration, rounds) is written once as a generator that asks for "a round
of n iterations" and receives its duration. ``RoundLoop`` is the one round loop: it reads the clocks
around a round, keeps the samples and answers the schedule. Between the two clock reads of a round
runs what pytest-benchmark's runner runs there, and nothing else: the call ``fn(*args, **kwargs)``,
in a loop ``for _ in range(n)`` when the round makes more than one call (``await fn()`` for a
coroutine function).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import math
import sys
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.measure.timer import RoundClock, Timer, round_clock_of

__all__ = [
    "Call",
    "RoundLoop",
    "RoundRequest",
    "RunOutcome",
    "Runner",
    "RunnerConfig",
    "call_parts",
    "gc_policy",
    "instrumentation_paused",
    "pedantic_arguments",
    "pedantic_call",
]

MAX_ITERATIONS = 10**9
# A round lasts at least the time budget over this many rounds (100 us of a 1 s budget), so that a
# fast workload's rounds fill the budget rather than stopping at max_rounds (see target_round_ns).
BUDGET_ROUNDS = 10_000
AUTO_WARMUP_CAP = 0.1
AUTO_WARMUP_FRACTION = 0.1
GC_POLICIES = ("enabled", "disabled", "frozen")


@dataclass(frozen=True)
class RunnerConfig:
    min_time: float = 0.000005
    max_time: float = 1.0
    min_rounds: int = 5
    max_rounds: int = 10_000
    warmup: float | None = None  # None: auto, see warmup_seconds
    gc: str = "enabled"

    def __post_init__(self) -> None:
        if self.gc not in GC_POLICIES:
            raise ValueError(f"gc policy must be one of {', '.join(GC_POLICIES)}, got {self.gc!r}")

    @property
    def warmup_seconds(self) -> float:
        """The warm-up time; auto is a tenth of the time budget, at most 0.1 s.

        Proportional, so that a short budget is not dominated by warming up: ``causal-eval ab``
        splits the budget over several fresh processes, each of which must warm up, and a quick
        ``--causal-eval-max-time=100ms`` run wants a quick warm-up too. A default 1 s run keeps 0.1 s.
        Whatever the time, an enabled warm-up makes at least one call.
        """
        if self.warmup is not None:
            return self.warmup
        return min(AUTO_WARMUP_CAP, AUTO_WARMUP_FRACTION * self.max_time)


@dataclass(frozen=True)
class RoundRequest:
    """Ask the driver for one round of ``iterations`` calls; ``timed`` rounds are kept as samples.

    ``keep_result``: the round makes one call, timed alone, and its result is kept until the round
    has been timed, as in pytest-benchmark's pedantic rounds. Otherwise the calls run in a loop
    and each result is dropped as the call returns, inside the round, as in its ``benchmark(fn)``
    rounds (a loop of one iteration too): dropping a 100 us call's list of 1,600 words is part of
    what pytest-benchmark times there, 4% of it.
    """

    iterations: int
    timed: bool
    keep_result: bool = False


@dataclass
class RunOutcome:
    result: Any = None
    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)  # per round, averaged over a block of rounds
    iterations: int = 1
    warmup_rounds: int = 0
    calibration: dict[str, float] = field(default_factory=dict)
    gc: str = "enabled"
    device_ns: list[int] = field(default_factory=list)  # per timed round, when the timer is a RoundClock
    calls: int = 0  # every call of the workload: warm-up, calibration and timed rounds

    def per_iteration_seconds(self) -> list[float]:
        return [s / self.iterations / 1e9 for s in self.samples_ns]

    def per_iteration_cpu_seconds(self) -> list[float]:
        return [s / self.iterations / 1e9 for s in self.cpu_ns]

    def per_iteration_device_seconds(self) -> list[float]:
        return [s / self.iterations / 1e9 for s in self.device_ns]


# The oldest generation's threshold while full collections are suspended (it counts collections of
# the generation below, so this is never reached within a measurement).
FULL_COLLECTIONS_SUSPENDED = 1 << 30
# What a round of many calls returns: their results are dropped as they come (RoundLoop.time_calls).
NO_RESULT: Any = object()
# The process CPU clock is read once per this much wall time of timed rounds (RoundLoop).
CPU_BLOCK_NS = 10_000_000


@contextmanager
def gc_policy(policy: str) -> Iterator[None]:
    """Apply a garbage-collector policy for the timed section and restore the previous state after.

    ``frozen``: collect, then keep everything that exists out of the collector's sight during the
    section (``gc.freeze``), and thaw it after. ``gc.unfreeze`` thaws every frozen object, so when
    objects were frozen before (by the application, say before forking workers, or by the
    interpreter: CPython 3.12 starts with some) nothing is frozen or thawed: full collections,
    the only ones that walk the old objects, are suspended for the section instead, and the
    thresholds put back after. Either way the frozen objects and the thresholds are as they were.
    """
    was_enabled = gc.isenabled()
    thresholds = gc.get_threshold()
    froze = False
    if policy == "disabled":
        gc.disable()
    elif policy == "frozen":
        gc.collect()
        if gc.get_freeze_count() == 0:
            gc.freeze()
            froze = True
        else:
            gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTIONS_SUSPENDED)
    try:
        yield
    finally:
        if froze:
            gc.unfreeze()
        if gc.get_threshold() != thresholds:
            gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


@contextmanager
def instrumentation_paused() -> Iterator[None]:
    """No tracer and no profiler on this thread for the section (coverage's, a debugger's), and
    the previous ones back after, as pytest-benchmark's ``PauseInstrumentation`` does around its
    calibration, warm-up and rounds: under ``pytest --cov`` a traced call ran 10-20 times slower (a
    1 ms text-wrapping call read 12-20 ms), and pytest-benchmark reads the same code untraced. Our
    profiling passes run apart from the rounds, so they are not affected."""
    tracer, profiler = sys.gettrace(), sys.getprofile()
    if tracer is not None:
        sys.settrace(None)
    if profiler is not None:
        sys.setprofile(None)
    try:
        yield
    finally:
        if tracer is not None:
            sys.settrace(tracer)
        if profiler is not None:
            sys.setprofile(profiler)


class Runner:
    """Measures one workload with an injected ``Timer``."""

    def __init__(
        self, config: RunnerConfig, timer: Timer, on_timed_start: Callable[[], None] | None = None
    ) -> None:
        self.config = config
        self.timer = timer
        # Called once, after warm-up and calibration, right before the first timed round (memory
        # counters start there, so one-time allocations of the first calls are not counted).
        self.on_timed_start = on_timed_start

    def _timed_start(self) -> None:
        if self.on_timed_start is not None:
            self.on_timed_start()

    # -- calibration -------------------------------------------------------------------------------
    def timer_overhead_ns(self) -> float:
        """Mean cost of one clock read."""
        wall = self.timer.wall_ns
        t0 = wall()
        for _ in range(99):
            wall()
        return (wall() - t0) / 100.0

    def target_round_ns(self, resolution_ns: float, overhead_ns: float) -> float:
        """The shortest round that keeps clock resolution and read cost under 1% of it, fits the
        time budget in ``BUDGET_ROUNDS`` rounds, and lasts ``min_time``.

        As short as that, and no shorter: the median of rounds of many calls is the median of their
        means, which counts the garbage collector's passes and other occasional costs in every
        round; the median of single calls leaves them out, as pytest-benchmark's (5 us rounds) does.
        Rounds of 1 ms made a 100 us allocation-heavy call read 20-30% slower than it does there.
        """
        budget_floor = self.config.max_time * 1e9 / BUDGET_ROUNDS
        return max(self.config.min_time * 1e9, 100.0 * (resolution_ns + 2.0 * overhead_ns), budget_floor)

    # -- schedules ---------------------------------------------------------------------------------
    def _auto_schedule(self, outcome: RunOutcome) -> Generator[RoundRequest, int, None]:
        cfg = self.config
        wall = self.timer.wall_ns
        resolution = float(self.timer.resolution_ns())
        overhead = self.timer_overhead_ns()
        target = self.target_round_ns(resolution, overhead)
        # Warm-up: single calls until the warm-up time has passed (at least one call when enabled).
        warmup_ns = round(cfg.warmup_seconds * 1e9)
        if warmup_ns > 0:
            start = wall()
            while True:
                yield RoundRequest(1, timed=False, keep_result=True)
                outcome.warmup_rounds += 1
                if wall() - start >= warmup_ns:
                    break
        # Calibration: grow iterations until a round reaches the target duration.
        n = 1
        calibration_calls = 0
        while True:
            duration = yield RoundRequest(n, timed=False, keep_result=n == 1)
            calibration_calls += n
            if duration >= target or n >= MAX_ITERATIONS:
                break
            if duration <= 0:
                n = min(MAX_ITERATIONS, n * 10)
            else:
                n = min(MAX_ITERATIONS, max(n + 1, math.ceil(n * target / duration * 1.05)))
        outcome.iterations = n
        outcome.calibration = {
            "timer_resolution_ns": resolution,
            "timer_overhead_ns": overhead,
            "target_round_ns": target,
            "calibration_calls": float(calibration_calls),
        }
        # Timed rounds until the budget is spent (and at least min_rounds).
        self._timed_start()
        start = wall()
        rounds = 0
        while rounds < cfg.max_rounds and (rounds < cfg.min_rounds or wall() - start < cfg.max_time * 1e9):
            yield RoundRequest(n, timed=True)
            rounds += 1

    def _fixed_schedule(
        self, outcome: RunOutcome, rounds: int, iterations: int, warmup_rounds: int
    ) -> Generator[RoundRequest, int, None]:
        outcome.iterations = iterations
        outcome.calibration = {}
        one_call = iterations == 1  # pytest-benchmark's pedantic rounds: the call alone
        for _ in range(warmup_rounds):
            yield RoundRequest(iterations, timed=False, keep_result=one_call)
            outcome.warmup_rounds += 1
        self._timed_start()
        for _ in range(rounds):
            yield RoundRequest(iterations, timed=True, keep_result=one_call)

    # -- drivers -----------------------------------------------------------------------------------
    def run(self, workload: Callable[[], Any]) -> RunOutcome:
        """Calibrated measurement of a no-argument callable.

        A ``functools.partial`` (what ``causal_bench(fn, *args, **kwargs)`` binds) is timed as
        pytest-benchmark times ``benchmark(fn, *args, **kwargs)``: ``fn(*args, **kwargs)`` in the
        round, not through the partial (see ``call_parts``).
        """
        outcome = RunOutcome(gc=self.config.gc)
        call = call_parts(workload)
        self._drive_sync(self._auto_schedule(outcome), outcome, lambda: call)
        return outcome

    def run_pedantic(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        setup: Callable[[], Any] | None,
        rounds: int,
        iterations: int,
        warmup_rounds: int,
    ) -> RunOutcome:
        """Exactly ``rounds`` rounds of ``iterations`` calls; ``setup`` runs untimed before each round."""
        outcome = RunOutcome(gc=self.config.gc)
        schedule = self._fixed_schedule(outcome, rounds, iterations, warmup_rounds)
        self._drive_sync(schedule, outcome, lambda: pedantic_arguments(fn, args, kwargs, setup))
        return outcome

    def _drive_sync(
        self,
        schedule: Generator[RoundRequest, int, None],
        outcome: RunOutcome,
        call_for_round: Callable[[], Call],
    ) -> None:
        """Run the schedule's rounds; ``call_for_round`` runs untimed before each round and returns
        the call the round makes (the function, its arguments and keyword arguments).

        The result returned is the last one a round kept (``RoundRequest.keep_result``): warm-up's
        and the first calibration round's single calls, every round of ``pedantic`` with one call
        per round. ``pedantic`` with ``iterations`` > 1 keeps none and makes one more call after
        its rounds, untimed, for its result, as pytest-benchmark does.
        """
        rounds = RoundLoop(self.timer, schedule, outcome)
        result: Any = NO_RESULT
        with gc_policy(self.config.gc), instrumentation_paused():
            for request in rounds:
                fn, args, kwargs = call_for_round()
                returned = rounds.time_calls(fn, args, kwargs, request.iterations)
                if returned is not NO_RESULT:
                    result = returned
        if result is NO_RESULT:
            fn, args, kwargs = call_for_round()
            result = fn(*args, **kwargs)
            outcome.calls += 1
        outcome.result = result

    def run_async(self, fn: Callable[[], Awaitable[Any]]) -> RunOutcome:
        """Calibrated measurement of a coroutine function, on a private event loop."""
        return asyncio.run(self.run_async_in_loop(fn))

    async def run_async_in_loop(self, fn: Callable[[], Awaitable[Any]]) -> RunOutcome:
        """Same as ``run_async`` from inside a running event loop."""
        outcome = RunOutcome(gc=self.config.gc)
        rounds = RoundLoop(self.timer, self._auto_schedule(outcome), outcome)
        result: Any = None
        with gc_policy(self.config.gc), instrumentation_paused():
            for request in rounds:
                result = await rounds.time_awaits(fn, request.iterations)
        outcome.result = result
        return outcome


class RoundLoop:
    """The round loop every driver runs: iterate it for the schedule's requests and time each
    round's calls with ``time_calls`` (or ``time_awaits`` for a coroutine function).

    This is the one place that reads the clocks around the measured calls, records a timed round's
    samples into the outcome and answers the schedule with the round's duration. Between the two
    wall-clock reads runs what pytest-benchmark's runner runs there: ``fn(*args, **kwargs)``, and
    the loop over ``range(n)`` around it only when the round makes more than one call. A harness
    call in there (a method to enter, attributes to look up) was timed with the workload, about
    0.3 us per round here, 15-25% of a 2-4 us function measured with ``pedantic``; the loop of
    one iteration and a check for a device clock, 50 ns per round, 2-3% of a 3 us ``json.loads``
    measured with ``pedantic`` (one call per round). A device clock is read inside the bracket
    (the round's wall time includes waiting for the device).

    The process CPU clock is read around blocks of timed rounds (``CPU_BLOCK_NS`` of wall time, and
    the rounds left at the end), not around each round: reading it is a system call, and the call
    timed right after one ran cold (a 3.7 us ``json.loads`` read 4.6 us). Each round of a block
    gets the block's CPU time over its rounds, which includes what runs between them (a pedantic
    round's setup, the schedule).
    """

    def __init__(
        self, timer: Timer, schedule: Generator[RoundRequest, int, None], outcome: RunOutcome
    ) -> None:
        self._wall, self._cpu = timer.wall_ns, timer.cpu_ns
        self._device = round_clock_of(timer)
        self._schedule = schedule
        self._outcome = outcome
        self._request: RoundRequest | None = None
        self._duration = 0
        self._block_cpu: int | None = None  # the CPU clock when the block began
        self._block_wall = 0  # the wall clock when its first round began
        self._block_rounds = 0

    def __iter__(self) -> Iterator[RoundRequest]:
        try:
            request = next(self._schedule)
            while True:
                self._request = request
                yield request
                request = self._schedule.send(self._duration)
        except StopIteration:
            pass
        self._end_block()

    def time_calls(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], iterations: int
    ) -> Any:
        """One round: ``iterations`` calls ``fn(*args, **kwargs)`` between the clocks. Returns the
        call's result when the round keeps it (``RoundRequest.keep_result``), else ``NO_RESULT``:
        in a loop each result is dropped as the call returns, as in pytest-benchmark's loop (kept
        until the next call returned, a 100 us call's list of 1,600 words was alive while the next
        one built its own)."""
        wall, device = self._wall, self._device
        self._begin_block()
        if device is not None:
            return self._time_device_round(device, fn, args, kwargs, iterations)
        if iterations == 1 and self._keeps_result():
            t0 = wall()
            result = fn(*args, **kwargs)
            t1 = wall()
            self._record(t0, t1, 0)
            return result
        calls = range(iterations)
        t0 = wall()
        for _ in calls:
            fn(*args, **kwargs)
        t1 = wall()
        self._record(t0, t1, 0)
        return NO_RESULT

    def _time_device_round(
        self,
        device: RoundClock,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        iterations: int,
    ) -> Any:
        """``time_calls`` with a device clock: its round hooks inside the bracket."""
        wall, calls = self._wall, range(iterations)
        result: Any = NO_RESULT
        device.round_begin()
        t0 = wall()
        for _ in calls:
            result = fn(*args, **kwargs)
        device_ns = device.round_end(self._timed())
        t1 = wall()
        self._record(t0, t1, device_ns)
        return result

    async def time_awaits(self, fn: Callable[[], Awaitable[Any]], iterations: int) -> Any:
        """``time_calls`` for a coroutine function: each call awaited in the running loop."""
        wall, calls, device = self._wall, range(iterations), self._device
        result: Any = None
        self._begin_block()
        if device is not None:
            device.round_begin()
        t0 = wall()
        for _ in calls:
            result = await fn()
        device_ns = 0 if device is None else device.round_end(self._timed())
        t1 = wall()
        self._record(t0, t1, device_ns)
        return result

    def _keeps_result(self) -> bool:
        request = self._request
        assert request is not None, "a round timed outside the round loop"
        return request.keep_result

    def _timed(self) -> bool:
        request = self._request
        assert request is not None, "a round timed outside the round loop"
        return request.timed

    def _begin_block(self) -> None:
        """Before a timed round that no block covers yet: read the CPU clock (class docstring)."""
        if self._block_cpu is None and self._timed():
            self._block_cpu = self._cpu()

    def _end_block(self) -> None:
        """The block's CPU time, shared by its rounds."""
        if self._block_cpu is None:
            return
        spent = self._cpu() - self._block_cpu
        if self._block_rounds:
            share = spent // self._block_rounds
            self._outcome.cpu_ns.extend([share] * self._block_rounds)
        self._block_cpu, self._block_rounds = None, 0

    def _record(self, t0: int, t1: int, device_ns: int) -> None:
        """After the wall clock: the bookkeeping of the round (the CPU clock when its block ends)."""
        request = self._request
        assert request is not None, "a round timed outside the round loop"
        outcome = self._outcome
        self._duration = t1 - t0
        outcome.calls += request.iterations
        if request.timed:
            outcome.samples_ns.append(self._duration)
            if self._device is not None:
                outcome.device_ns.append(device_ns)
            if self._block_rounds == 0:
                self._block_wall = t0
            self._block_rounds += 1
            if t1 - self._block_wall >= CPU_BLOCK_NS:
                self._end_block()


Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def call_parts(workload: Callable[[], Any]) -> Call:
    """The function and arguments a round calls for ``workload``: those a ``functools.partial``
    binds (``causal_bench(fn, *args, **kwargs)`` keeps its call as one), else the workload with
    none. pytest-benchmark calls ``fn(*args, **kwargs)`` in its rounds, and so do we: the same
    code reads the same, and a re-measuring pass times the call the first pass timed."""
    if type(workload) is functools.partial:
        return workload.func, workload.args, workload.keywords
    return workload, (), {}


def pedantic_arguments(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    setup: Callable[[], Any] | None,
) -> Call:
    """The call one pedantic round makes: runs ``setup`` now (untimed) and takes what it provides.

    pytest-benchmark's convention: ``setup`` returns None (keep ``args``/``kwargs``) or a tuple
    ``(args, kwargs)`` that replaces them.
    """
    if setup is not None:
        provided = setup()
        if provided is not None:
            args, kwargs = _split_setup_result(provided)
    return fn, args, kwargs


def pedantic_call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    setup: Callable[[], Any] | None,
) -> Callable[[], Any]:
    """``pedantic_arguments`` bound into one no-argument call (for the passes that run the
    workload outside the timed rounds: instruction counts, profiles)."""
    fn, call_args, call_kwargs = pedantic_arguments(fn, args, kwargs, setup)
    if not call_args and not call_kwargs:
        return fn
    # functools.partial is called in C: no Python frame of ours runs with the workload
    return functools.partial(fn, *call_args, **call_kwargs)


def _split_setup_result(provided: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(provided, tuple) and len(provided) == 2 and isinstance(provided[1], dict):
        return tuple(provided[0]), dict(provided[1])
    raise TypeError(
        "causal_bench.pedantic: setup must return None or a tuple (args, kwargs), "
        f"got {type(provided).__name__}"
    )
