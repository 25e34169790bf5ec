"""The measuring schedule, driven by a fake clock: exact calibration, rounds and statistics."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pytest

from pytest_causal_eval.measure.runner import Runner, RunnerConfig, gc_policy
from pytest_causal_eval.stats.summary import summarize


class FakeTimer:
    def __init__(self) -> None:
        self.now = 0
        self.cpu = 0

    def wall_ns(self) -> int:
        return self.now

    def cpu_ns(self) -> int:
        return self.cpu

    def resolution_ns(self) -> float:
        return 1.0


def test_calibration_reaches_target_round_and_budget_is_respected() -> None:
    timer = FakeTimer()

    def work() -> int:
        timer.now += 1000  # 1 us per call
        timer.cpu += 500
        return 7

    runner = Runner(RunnerConfig(min_time=0.001, max_time=1.0, min_rounds=5, warmup=0.0), timer)
    out = runner.run(work)
    assert out.result == 7
    # 1 call = 1 us; target round 1 ms -> one growth step: ceil(1 * 1e6 / 1e3 * 1.05) = 1050 iterations.
    assert out.iterations == 1050
    assert out.calibration["target_round_ns"] == 1e6
    assert out.calibration["timer_overhead_ns"] == 0
    # Rounds of 1.05 ms until 1 s has passed: ceil(1e9 / 1.05e6) = 953.
    assert len(out.samples_ns) == 953
    assert set(out.per_iteration_seconds()) == {1e-6}
    assert set(out.per_iteration_cpu_seconds()) == {5e-7}
    stats = summarize(out.per_iteration_seconds())
    assert stats.median == 1e-6 and stats.stddev == 0 and stats.cv == 0
    assert out.warmup_rounds == 0


@pytest.mark.parametrize(
    ("call_ns", "iterations", "target_ns"),
    [
        (100_000, 1, 100_000),  # a 100 us call: rounds of one call, as pytest-benchmark times it
        (2_000_000, 1, 100_000),
        (1_000, 105, 100_000),  # a 1 us call: rounds of ~100 us, so 1 s holds 10,000 of them
    ],
)
def test_default_rounds_are_as_short_as_the_clock_and_the_budget_allow(
    call_ns: int, iterations: int, target_ns: float
) -> None:
    """The median of rounds of many calls is the median of their means (each round carries its
    share of the garbage collector's passes); single calls leave those out, as pytest-benchmark
    does. Rounds of at least 1 ms made a 100 us call read 20-30% slower than pytest-benchmark."""
    timer = FakeTimer()

    def work() -> None:
        timer.now += call_ns

    out = Runner(RunnerConfig(warmup=0.0), timer).run(work)
    assert out.calibration["target_round_ns"] == target_ns
    assert out.iterations == iterations


def test_the_budget_floor_follows_the_time_budget_not_max_rounds() -> None:
    timer = FakeTimer()

    def work() -> None:
        timer.now += 1_000

    out = Runner(RunnerConfig(max_time=0.1, max_rounds=50, warmup=0.0), timer).run(work)
    assert out.calibration["target_round_ns"] == 10_000  # 0.1 s / 10,000 rounds
    assert len(out.samples_ns) == 50


@pytest.mark.parametrize("pedantic", [False, True])
def test_timed_start_is_signalled_once_after_warmup_and_calibration(pedantic: bool) -> None:
    timer = FakeTimer()
    events: list[str] = []

    def work() -> None:
        timer.now += 10_000
        events.append("call")

    runner = Runner(
        RunnerConfig(min_time=0.001, max_time=0.002, warmup=0.0001),
        timer,
        on_timed_start=lambda: events.append("timed"),
    )
    if pedantic:
        out = runner.run_pedantic(work, (), {}, None, rounds=3, iterations=2, warmup_rounds=2)
    else:
        out = runner.run(work)
    assert events.count("timed") == 1
    untimed_calls = events.index("timed")
    # pedantic with iterations > 1 calls once more after its rounds, for its result
    after_rounds = 1 if pedantic else 0
    assert untimed_calls == len(events) - 1 - len(out.samples_ns) * out.iterations - after_rounds
    assert untimed_calls > 0


def test_warmup_runs_single_calls_for_the_warmup_time() -> None:
    timer = FakeTimer()

    def work() -> None:
        timer.now += 10_000  # 10 us

    out = Runner(RunnerConfig(min_time=0.001, max_time=0.01, warmup=0.001), timer).run(work)
    assert out.warmup_rounds == 100  # 1 ms of 10 us calls
    assert out.iterations == 105


@pytest.mark.parametrize(
    ("max_time", "warmup_calls"),
    [(0.2, 20), (1.0, 100), (5.0, 100)],  # a tenth of the budget, at most 100 ms
)
def test_auto_warmup_is_a_tenth_of_the_budget_capped_at_100ms(max_time: float, warmup_calls: int) -> None:
    timer = FakeTimer()

    def work() -> None:
        timer.now += 1_000_000  # 1 ms

    config = RunnerConfig(min_time=0.001, max_time=max_time)
    assert config.warmup is None
    assert config.warmup_seconds == pytest.approx(warmup_calls / 1000)
    out = Runner(config, timer).run(work)
    assert out.warmup_rounds == warmup_calls


def test_auto_warmup_makes_one_call_even_when_it_is_longer_than_the_warmup() -> None:
    timer = FakeTimer()

    def slow() -> None:
        timer.now += 50_000_000  # 50 ms, longer than a tenth of a 100 ms budget

    out = Runner(RunnerConfig(min_time=0.001, max_time=0.1, min_rounds=1), timer).run(slow)
    assert out.warmup_rounds == 1


def test_min_rounds_win_over_the_time_budget_for_slow_workloads() -> None:
    timer = FakeTimer()

    def slow() -> None:
        timer.now += 2_000_000_000  # 2 s per call

    out = Runner(RunnerConfig(min_time=0.001, max_time=1.0, min_rounds=5, warmup=0.0), timer).run(slow)
    assert out.iterations == 1
    assert len(out.samples_ns) == 5


def test_max_rounds_caps_fast_workloads() -> None:
    timer = FakeTimer()

    def work() -> None:
        timer.now += 1_000_000

    out = Runner(RunnerConfig(min_time=0.001, max_time=10.0, max_rounds=7, warmup=0.0), timer).run(work)
    assert len(out.samples_ns) == 7


def test_timer_resolution_sets_a_floor_on_the_round_length() -> None:
    class Coarse(FakeTimer):
        def resolution_ns(self) -> float:
            return 100_000.0  # a 0.1 ms clock: rounds must last >= 10 ms

    timer = Coarse()

    def work() -> None:
        timer.now += 1000

    out = Runner(RunnerConfig(min_time=0.000001, max_time=1.0, warmup=0.0), timer).run(work)
    assert out.calibration["target_round_ns"] == 10_000_000
    assert out.iterations * 1000 >= 10_000_000


def test_pedantic_runs_exact_rounds_with_untimed_setup() -> None:
    timer = FakeTimer()
    calls: list[tuple[int, str]] = []

    def setup() -> tuple[tuple[int], dict[str, str]]:
        timer.now += 5_000_000  # untimed: must not show in samples
        return (len(calls),), {"tag": "x"}

    def work(i: int, tag: str) -> int:
        calls.append((i, tag))
        timer.now += 3000
        return i

    out = Runner(RunnerConfig(), timer).run_pedantic(
        work, (), {}, setup, rounds=4, iterations=1, warmup_rounds=2
    )
    assert out.samples_ns == [3000, 3000, 3000, 3000]
    assert out.warmup_rounds == 2
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4, 5]
    assert out.result == 5


def test_pedantic_setup_must_return_args_kwargs() -> None:
    timer = FakeTimer()
    with pytest.raises(TypeError, match=r"setup must return None or a tuple \(args, kwargs\)"):
        Runner(RunnerConfig(), timer).run_pedantic(lambda: None, (), {}, lambda: 3, 1, 1, 0)


def test_async_workloads_are_timed_inside_the_loop() -> None:
    timer = FakeTimer()

    async def work() -> str:
        timer.now += 2000
        return "ok"

    out = Runner(RunnerConfig(min_time=0.001, max_time=0.1, warmup=0.0), timer).run_async(work)
    assert out.result == "ok"
    assert set(out.per_iteration_seconds()) == {2e-6}
    assert out.iterations == 525


def test_exception_in_workload_propagates_unchanged() -> None:
    timer = FakeTimer()

    class Boom(Exception):
        pass

    def work() -> None:
        raise Boom("original")

    with pytest.raises(Boom, match="original"):
        Runner(RunnerConfig(warmup=0.0), timer).run(work)


@pytest.mark.parametrize("policy", ["disabled", "frozen", "enabled"])
def test_gc_policy_is_applied_and_restored(policy: str) -> None:
    assert gc.isenabled()
    frozen_before, thresholds = gc.get_freeze_count(), gc.get_threshold()  # CPython 3.12 starts with some
    with gc_policy(policy):
        assert gc.isenabled() == (policy != "disabled")
        if policy == "frozen":
            assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before and gc.get_threshold() == thresholds


# Run in a fresh interpreter: freezing is process-wide and cannot be undone selectively.
FROZEN_SCRIPT = """
import gc, json, sys
from pytest_causal_eval.measure.runner import gc_policy

def frozen(obj):  # a tracked object the collector does not list is in the permanent generation
    return gc.is_tracked(obj) and all(o is not obj for o in gc.get_objects())

gc.unfreeze()  # start from nothing frozen...
gc.collect()  # ...as far as the interpreter lets (3.12.1 puts its immortal objects there on collect)
mine = [[[i]] for i in range(50)]  # lists of lists: tracked by the collector
if sys.argv[1] == "user-froze":
    gc.freeze()
before, thresholds = gc.get_freeze_count(), gc.get_threshold()
early = [["made before the section"]]
with gc_policy("frozen"):
    during = {"count": gc.get_freeze_count(), "early_frozen": frozen(early), "threshold": gc.get_threshold()}
print(json.dumps({
    "before": before,
    "during": during,
    "after": gc.get_freeze_count(),
    "mine_frozen": all(frozen(m) for m in mine),
    "early_frozen_after": frozen(early),
    "thresholds_restored": gc.get_threshold() == thresholds,
    "enabled": gc.isenabled(),
}))
"""


@pytest.mark.parametrize("state", ["user-froze", "nothing-frozen"])
def test_gc_frozen_restores_what_was_frozen_before(state: str) -> None:
    """``gc.unfreeze`` thaws every frozen object: objects the application froze before the
    measurement must stay frozen after it, and nothing else may stay frozen."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FROZEN_SCRIPT, state], capture_output=True, text=True, check=True, timeout=60
    )
    facts = json.loads(done.stdout)
    assert facts["enabled"] and facts["thresholds_restored"]
    assert facts["after"] == facts["before"]
    assert facts["early_frozen_after"] is False
    if state == "user-froze":
        assert facts["before"] > 0 and facts["mine_frozen"] is True  # still frozen: not thawed by us
        assert facts["during"]["count"] == facts["before"]  # nothing more frozen...
        assert facts["during"]["threshold"][2] >= 1 << 30  # ...full collections suspended instead
    elif facts["before"] == 0:
        assert facts["mine_frozen"] is False
        assert facts["during"]["count"] > 0 and facts["during"]["early_frozen"] is True
    else:  # CPython 3.12.1: collecting freezes its immortal objects, so something is always frozen
        assert facts["mine_frozen"] is False and facts["during"]["count"] == facts["before"]
        assert facts["during"]["threshold"][2] >= 1 << 30


def test_unknown_gc_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="enabled, disabled, frozen"):
        RunnerConfig(gc="sometimes")


class CpuReadCounter(FakeTimer):
    def __init__(self) -> None:
        super().__init__()
        self.cpu_reads = 0

    def cpu_ns(self) -> int:
        self.cpu_reads += 1
        return self.cpu


def test_the_cpu_clock_is_read_once_per_block_of_rounds_not_around_every_round() -> None:
    """Reading the process CPU clock is a system call, and the call timed right after one ran cold:
    a 3.7 us ``json.loads`` read 4.6 us, a quarter slower, with a read before each round."""
    timer = CpuReadCounter()

    def work() -> None:
        timer.now += 100_000
        timer.cpu += 40_000

    out = Runner(RunnerConfig(max_time=0.1, warmup=0.0), timer).run(work)
    assert out.iterations == 1 and len(out.samples_ns) == 1000  # 100 us rounds for 0.1 s
    assert timer.cpu_reads == 20  # blocks of 10 ms: 100 rounds each, one read at each end
    assert len(out.cpu_ns) == len(out.samples_ns)
    assert set(out.per_iteration_cpu_seconds()) == {4e-5}

    timer = CpuReadCounter()
    out = Runner(RunnerConfig(), timer).run_pedantic(
        work, (), {}, None, rounds=50, iterations=1, warmup_rounds=5
    )
    assert timer.cpu_reads == 2  # 5 ms of rounds: one block, ended with the loop
    assert len(out.cpu_ns) == 50 and set(out.per_iteration_cpu_seconds()) == {4e-5}


def test_no_tracer_or_profiler_runs_during_the_rounds_and_both_are_back_after() -> None:
    """pytest-benchmark takes the tracer and the profiler off around its rounds: under
    ``pytest --cov`` the same code read 10-20 times slower here than there."""
    timer = FakeTimer()
    seen: set[tuple[Any, Any]] = set()

    def tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    def profiler(frame: Any, event: str, arg: Any) -> None:
        return None

    def work(*args: Any) -> None:
        seen.add((sys.gettrace(), sys.getprofile()))
        timer.now += 1000

    async def async_work() -> None:
        work()

    config = RunnerConfig(max_time=0.001, min_rounds=3)
    previous = sys.gettrace(), sys.getprofile()
    sys.settrace(tracer)
    sys.setprofile(profiler)
    try:
        Runner(config, timer).run(work)
        Runner(config, timer).run_pedantic(work, (1,), {}, None, rounds=3, iterations=1, warmup_rounds=1)
        Runner(config, timer).run_async(async_work)
        after = sys.gettrace(), sys.getprofile()
    finally:
        sys.settrace(previous[0])
        sys.setprofile(previous[1])
    assert seen == {(None, None)}
    assert after == (tracer, profiler)


def test_a_round_of_many_calls_drops_each_result_before_the_next_call() -> None:
    """pytest-benchmark's loop drops each result as the call returns; ours kept it until the next
    call returned, so a 100 us call's list of 1,600 words was alive while the next built its own.
    ``pedantic`` with ``iterations`` > 1 makes one more call after its rounds for its result, as
    pytest-benchmark does."""
    timer = FakeTimer()
    previous: list[weakref.ref[Result]] = []
    seen_alive: list[bool] = []

    class Result:
        pass

    def work() -> Result:
        seen_alive.append(bool(previous) and previous[-1]() is not None)
        result = Result()
        previous.append(weakref.ref(result))
        timer.now += 1000
        return result

    runner = Runner(RunnerConfig(), timer)
    out = runner.run_pedantic(work, (), {}, None, rounds=3, iterations=5, warmup_rounds=1)
    assert len(seen_alive) == 4 * 5 + 1 and not any(seen_alive)
    assert out.calls == 21 and len(out.samples_ns) == 3
    assert isinstance(out.result, Result) and previous[-1]() is out.result


def test_a_plain_call_returns_the_result_of_its_last_one_call_round() -> None:
    timer = FakeTimer()
    calls: list[int] = []

    def work() -> int:
        calls.append(len(calls))
        timer.now += 1000
        return calls[-1]

    out = Runner(RunnerConfig(max_time=0.01, warmup=0.0), timer).run(work)
    assert out.iterations > 1 and out.calls == len(calls)
    assert out.result == 0  # the first calibration round's single call: every later round loops
