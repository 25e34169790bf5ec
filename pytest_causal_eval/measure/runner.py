"""Warm-up, calibration and timed rounds.

The schedule (warm-up, calibration, rounds) is written once as a generator that asks for "a round
of n iterations" and receives its duration; a synchronous driver and an asynchronous driver feed
it. Only the loop ``for _ in range(n): fn()`` sits between the two clock reads of a round.
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.measure.timer import Timer, round_clock_of

__all__ = ["RoundRequest", "RunOutcome", "Runner", "RunnerConfig", "gc_policy"]

MAX_ITERATIONS = 10**9
AUTO_WARMUP_CAP = 0.1
AUTO_WARMUP_FRACTION = 0.1
GC_POLICIES = ("enabled", "disabled", "frozen")


@dataclass(frozen=True)
class RunnerConfig:
    min_time: float = 0.001
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
    """Ask the driver for one round of ``iterations`` calls; ``timed`` rounds are kept as samples."""

    iterations: int
    timed: bool


@dataclass
class RunOutcome:
    result: Any = None
    samples_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
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
        """A round long enough that clock resolution and read cost stay under 1% of it."""
        return max(self.config.min_time * 1e9, 100.0 * (resolution_ns + 2.0 * overhead_ns))

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
                yield RoundRequest(1, timed=False)
                outcome.warmup_rounds += 1
                if wall() - start >= warmup_ns:
                    break
        # Calibration: grow iterations until a round reaches the target duration.
        n = 1
        calibration_calls = 0
        while True:
            duration = yield RoundRequest(n, timed=False)
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
        for _ in range(warmup_rounds):
            yield RoundRequest(iterations, timed=False)
            outcome.warmup_rounds += 1
        self._timed_start()
        for _ in range(rounds):
            yield RoundRequest(iterations, timed=True)

    # -- drivers -----------------------------------------------------------------------------------
    def run(self, fn: Callable[[], Any]) -> RunOutcome:
        """Calibrated measurement of a no-argument callable."""
        outcome = RunOutcome(gc=self.config.gc)
        self._drive_sync(self._auto_schedule(outcome), outcome, lambda: (fn, None))
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

        def prepare() -> tuple[Callable[[], Any], None]:
            call_args, call_kwargs = args, kwargs
            if setup is not None:
                provided = setup()
                if provided is not None:
                    call_args, call_kwargs = _split_setup_result(provided)
            if not call_args and not call_kwargs:
                return fn, None
            return (lambda: fn(*call_args, **call_kwargs)), None

        self._drive_sync(self._fixed_schedule(outcome, rounds, iterations, warmup_rounds), outcome, prepare)
        return outcome

    def run_async(self, fn: Callable[[], Awaitable[Any]]) -> RunOutcome:
        """Calibrated measurement of a coroutine function, on a private event loop."""
        return asyncio.run(self.run_async_in_loop(fn))

    async def run_async_in_loop(self, fn: Callable[[], Awaitable[Any]]) -> RunOutcome:
        """Same as ``run_async`` from inside a running event loop."""
        outcome = RunOutcome(gc=self.config.gc)
        schedule = self._auto_schedule(outcome)
        wall, cpu = self.timer.wall_ns, self.timer.cpu_ns
        device = round_clock_of(self.timer)
        result: Any = None
        with gc_policy(self.config.gc):
            try:
                request = next(schedule)
                while True:
                    c0 = cpu()
                    if device is not None:
                        device.round_begin()
                    t0 = wall()
                    for _ in range(request.iterations):
                        result = await fn()
                    device_ns = device.round_end(request.timed) if device is not None else 0
                    t1 = wall()
                    c1 = cpu()
                    outcome.calls += request.iterations
                    if request.timed:
                        outcome.samples_ns.append(t1 - t0)
                        outcome.cpu_ns.append(c1 - c0)
                        if device is not None:
                            outcome.device_ns.append(device_ns)
                    request = schedule.send(t1 - t0)
            except StopIteration:
                pass
        outcome.result = result
        return outcome

    def _drive_sync(
        self,
        schedule: Generator[RoundRequest, int, None],
        outcome: RunOutcome,
        prepare: Callable[[], tuple[Callable[[], Any], None]],
    ) -> None:
        wall, cpu = self.timer.wall_ns, self.timer.cpu_ns
        device = round_clock_of(self.timer)
        result: Any = None
        with gc_policy(self.config.gc):
            try:
                request = next(schedule)
                while True:
                    call, _ = prepare()
                    loop = range(request.iterations)
                    c0 = cpu()
                    if device is not None:
                        device.round_begin()
                    t0 = wall()
                    for _ in loop:
                        result = call()
                    device_ns = device.round_end(request.timed) if device is not None else 0
                    t1 = wall()
                    c1 = cpu()
                    outcome.calls += request.iterations
                    if request.timed:
                        outcome.samples_ns.append(t1 - t0)
                        outcome.cpu_ns.append(c1 - c0)
                        if device is not None:
                            outcome.device_ns.append(device_ns)
                    request = schedule.send(t1 - t0)
            except StopIteration:
                pass
        outcome.result = result


def _split_setup_result(provided: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """pytest-benchmark's convention: setup returns ``(args, kwargs)``."""
    if isinstance(provided, tuple) and len(provided) == 2 and isinstance(provided[1], dict):
        return tuple(provided[0]), dict(provided[1])
    raise TypeError(
        "causal_bench.pedantic: setup must return None or a tuple (args, kwargs), "
        f"got {type(provided).__name__}"
    )
