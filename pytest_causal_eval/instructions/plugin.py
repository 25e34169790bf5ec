"""Counting in the re-run under valgrind: one count per ``causal_bench`` measurement.

Per measurement: one uncounted warm-up call (its result is what the test gets back), a full garbage
collection, then instrumentation on for ``calls`` calls (1; pedantic: its ``iterations``), the
counters dumped to a file named after the measurement, instrumentation off. The measurement gets
the metric ``instructions`` (per call; with ``--causal-eval-cache-sim`` also ``estimated_cycles``)
and ``extra["instructions"]`` (what was counted and how); it has no timed rounds: a wall time taken
under valgrind says nothing about the code.

On CPython 3.12+ each count is followed by a profile pass: one more counted call (after one
uncounted one) through the perf trampoline, whose callgrind file and perf map name the Python
functions of the hotspots (``extra["instruction_profile"]``). The trampolines add instructions
(about 5% on call-heavy code), so that pass is never the count the gate compares. On 3.11 there is
no trampoline: the hotspots come from the count's own file, C functions only.

Skipped with the reason: tests that use the GPU (valgrind cannot see a CUDA device's work), and
tests marked ``@pytest.mark.causal_eval(instructions=False or "why")``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.extra_keys import INSTRUCTION_PROFILE, INSTRUCTIONS, InstructionProfileFiles
from pytest_causal_eval.instructions.reexec import RERUN_KEY
from pytest_causal_eval.instructions.settings import InstructionSettings
from pytest_causal_eval.markers import marker_kwargs
from pytest_causal_eval.results import Measurement, Metric

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_causal_eval.measure.instructions import InstructionCount, InstructionCounter
    from pytest_causal_eval.results import RunResults
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["COUNT_METRICS", "PROFILE_LABEL", "InstructionPlugin", "skip_reason", "trampoline_available"]

COUNT_METRICS = ("instructions", "estimated_cycles")
WARMUP_CALLS = 1
PROFILE_LABEL = "{label} [python frames]"  # the profile pass's dump
PROFILE_WARMUP_CALLS = 1  # the first call through the trampoline makes them: not in the profile
GPU_SKIP = (
    "instruction mode cannot count this test: it uses the GPU (gpu_env or the gpu marker), whose "
    "kernels valgrind does not see; measure it with --causal-eval-mode=time"
)


def trampoline_available() -> bool:
    """CPython 3.12+ built with the perf trampoline (Linux on x86-64 and arm64): it can name Python
    frames in a callgrind profile. Elsewhere ``sys.activate_stack_trampoline`` exists but raises."""
    import sysconfig

    return hasattr(sys, "activate_stack_trampoline") and bool(
        sysconfig.get_config_var("PY_HAVE_PERF_TRAMPOLINE")
    )


def skip_reason(item: pytest.Item) -> str | None:
    """Why instruction mode does not count this test, or None."""
    if "gpu_env" in getattr(item, "fixturenames", ()) or item.get_closest_marker("gpu") is not None:
        return GPU_SKIP
    value = marker_kwargs(item).get("instructions", True)
    if value is True:
        return None
    if value is False:
        return "instruction mode: not counted (@pytest.mark.causal_eval(instructions=False))"
    if isinstance(value, str) and value.strip():
        return f"instruction mode: not counted: {value.strip()}"
    pytest.fail(
        f"@pytest.mark.causal_eval(instructions=...): expected True, False or a reason string (why the "
        f"test is not counted), got {value!r}",
        pytrace=False,
    )


_COST_WORDS = {"fixed": "at a fixed cost", "executed": "as executed"}


class InstructionPlugin:
    """Registered as ``causal_eval_instructions`` in instruction mode."""

    def __init__(self, config: pytest.Config, session: CausalEvalSession) -> None:
        self.config = config
        self.session = session
        settings = InstructionSettings.of(session.settings)
        self.cache_sim = settings.cache_sim
        self.allocator_cost = settings.allocator_cost
        self.time_limit = settings.count_timeout
        self.out_dir: str | None = config.stash.get(RERUN_KEY, None) or None
        self.hash_seed = os.environ.get("PYTHONHASHSEED")
        self._counter: InstructionCounter | None = None
        self.counts: dict[str, InstructionCount] = {}
        self.python_frames = trampoline_available()
        self._profiles: dict[Path, InstructionCount] = {}  # by the count's dump: its profile pass

    # -- counting ----------------------------------------------------------------------------------
    @property
    def counter(self) -> InstructionCounter:
        if self._counter is None:
            from pytest_causal_eval.measure.instructions import InstructionCounter, NotUnderCallgrindError

            if self.out_dir is None:
                pytest.fail(
                    "instruction mode: this pytest process is not the re-run under valgrind; the plugin "
                    "re-runs the command line under valgrind from pytest_cmdline_main, which a pytest "
                    "started in-process (pytest.main with plugin objects, --collect-only) skips",
                    pytrace=False,
                )
            try:
                self._counter = InstructionCounter(Path(self.out_dir), allocator_cost=self.allocator_cost)
            except NotUnderCallgrindError as exc:
                pytest.fail(f"instruction mode: {exc}", pytrace=False)
        return self._counter

    def count(
        self,
        item: pytest.Item,
        label: str,
        fn: Callable[[], Any],
        *,
        calls: int = 1,
        prepare: Callable[[], Callable[[], Any]] | None = None,
    ) -> tuple[Any, InstructionCount]:
        """Warm up once (the result is returned), then count ``calls`` calls."""
        from pytest_causal_eval.measure.instructions import CountTimeoutError, alarm_after

        counter = self.counter
        with self._failing_on_timeout(label), self._gc_policy(item):
            with alarm_after(self.time_limit, label):
                result = (prepare() if prepare is not None else fn)()
            counted = counter.count(
                fn, calls, label=label, warmup=0, time_limit=self.time_limit, prepare=prepare
            )
            if self.python_frames:  # past the time limit: the hotspots come from the count's file
                with suppress(CountTimeoutError):
                    self._profiles[counted.path] = counter.count(
                        fn,
                        1,
                        label=PROFILE_LABEL.format(label=label),
                        warmup=PROFILE_WARMUP_CALLS,
                        time_limit=self.time_limit,
                        subtract_overhead=False,
                        python_frames=True,
                        prepare=prepare,
                        settle=False,
                    )
        return result, counted

    def count_private_loop(
        self, item: pytest.Item, label: str, coro_fn: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, InstructionCount]:
        """An async workload measured from a synchronous test: on a private event loop."""
        loop = asyncio.new_event_loop()
        try:
            return self.count(item, label, lambda: loop.run_until_complete(_await(coro_fn())))
        finally:
            loop.close()

    async def count_in_loop(
        self, item: pytest.Item, label: str, coro_fn: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, InstructionCount]:
        """An async workload awaited in the test's running loop."""
        from pytest_causal_eval.measure.instructions import CountTimeoutError, alarm_after

        counter = self.counter
        with self._failing_on_timeout(label), self._gc_policy(item):
            with alarm_after(self.time_limit, label):
                result = await coro_fn()
            counted = await counter.count_async(coro_fn, label=label, warmup=0, time_limit=self.time_limit)
            if self.python_frames:  # as in count
                with suppress(CountTimeoutError):
                    self._profiles[counted.path] = await counter.count_async(
                        coro_fn,
                        label=PROFILE_LABEL.format(label=label),
                        warmup=PROFILE_WARMUP_CALLS,
                        time_limit=self.time_limit,
                        subtract_overhead=False,
                        settle=False,
                        python_frames=True,
                    )
        return result, counted

    @contextmanager
    def _failing_on_timeout(self, label: str) -> Iterator[None]:
        from pytest_causal_eval.measure.instructions import CountTimeoutError

        try:
            yield
        except CountTimeoutError as exc:
            message = (
                f"{exc}; raise --causal-eval-count-timeout or mark the test "
                "@pytest.mark.causal_eval(instructions='why it is not counted')"
            )
        else:
            return
        pytest.fail(message, pytrace=False)

    @contextmanager
    def _gc_policy(self, item: pytest.Item) -> Iterator[None]:
        from pytest_causal_eval.measure.runner import gc_policy

        with gc_policy(self.session.runner_config(item).gc):
            yield

    def record(self, measurement: Measurement, counted: InstructionCount, policy: str) -> None:
        """The metrics and the record of one count (called right after counting)."""
        from pytest_causal_eval.measure.instructions import gc_state

        self.counts[measurement.id] = counted
        measurement.add_metric(Metric("instructions", counted.per_call, unit="instructions", better="lower"))
        cycles = counted.estimated_cycles_per_call
        if cycles is not None:
            measurement.add_metric(Metric("estimated_cycles", cycles, unit="cycles", better="lower"))
        measurement.iterations = counted.calls
        measurement.gc = policy
        INSTRUCTIONS.put(
            measurement,
            {
                "calls": counted.calls,
                "warmup_calls": WARMUP_CALLS + counted.warmup_calls,
                "per_call": {e: v / counted.calls for e, v in sorted(counted.net.items())},
                "overhead": dict(sorted(counted.overhead.items())),
                "allocator_cost": self.allocator_cost,
                "allocator": counted.allocator.to_dict(counted.calls)
                if counted.allocator is not None
                else None,
                "cache_sim": self.cache_sim,
                "hash_seed": self.hash_seed,
                "gc": gc_state(),
                "threads": "counted",
                "child_processes": "not counted",
                "dump": str(counted.path),
                "dump_name": counted.path.name,
            },
        )
        profiled = self._profiles.pop(counted.path, None)
        source = profiled if profiled is not None else counted
        INSTRUCTION_PROFILE.put(
            measurement,
            InstructionProfileFiles(
                dump=str(source.path),
                calls=source.calls,
                perf_map=str(source.perf_map_path) if source.perf_map_path is not None else None,
            ),
        )

    # -- hooks -------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        reason = skip_reason(item)
        if reason is not None:
            pytest.skip(reason)

    def pytest_report_header(self, config: pytest.Config) -> str:
        from pytest_causal_eval.measure.instructions import MAX_SETTLE_CALLS, SETTLE_INSTRUCTIONS

        thresholds = ",".join(str(t) for t in gc.get_threshold())
        return (
            "causal-eval instruction mode: counted by valgrind's callgrind"
            f"{' with cache simulation' if self.cache_sim else ''}; PYTHONHASHSEED={self.hash_seed}, "
            f"gc {'enabled' if gc.isenabled() else 'disabled'} (thresholds {thresholds}); allocator and "
            f"address-indexed cache calls {_COST_WORDS[self.allocator_cost]}; "
            f"{WARMUP_CALLS} warm-up call, then the counted calls (counted again after up to "
            f"{MAX_SETTLE_CALLS} more below {SETTLE_INSTRUCTIONS / 1e6:g}M instructions per call); "
            f"count time limit {self.time_limit:g}s"
        )

    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        results.extra["mode"] = "instructions"
        results.extra["instructions"] = {
            "valgrind": _valgrind_version(),
            "cache_sim": self.cache_sim,
            "allocator_cost": self.allocator_cost,
            "hash_seed": self.hash_seed,
            "threads": "counted",
            "child_processes": "not counted",
        }


def _valgrind_version() -> str | None:
    path = shutil.which("valgrind")
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


async def _await(value: Any) -> Any:
    return await value
