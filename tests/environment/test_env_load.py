"""Foreign CPU load during the timed rounds: the arithmetic of the real sampler against fake
counters, and that the reading covers the timed rounds only (through pytester)."""

from __future__ import annotations

import collections
import json
from dataclasses import replace
from typing import Any

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

from pytest_causal_eval.environment.load import CpuTimesSampler, machine_busy_seconds
from pytest_causal_eval.measure.load import LoadReading

SystemTimes = collections.namedtuple(
    "SystemTimes", "user nice system idle iowait irq softirq steal guest guest_nice"
)
ProcTimes = collections.namedtuple("ProcTimes", "user system")


class Counters:
    """A machine of ``cpus`` CPUs whose busy time and processes' CPU times the test sets."""

    def __init__(self, cpus: int = 4) -> None:
        self.cpus = cpus
        self.busy = 0.0
        self.own: dict[int, float] = {1: 0.0}
        self.now = 100.0

    # the psutil surface CpuTimesSampler uses
    def cpu_count(self) -> int:
        return self.cpus

    def cpu_times(self) -> SystemTimes:
        idle = self.cpus * self.now - self.busy
        return SystemTimes(self.busy, 0.0, 0.0, idle, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def Process(self, pid: int | None = None) -> Any:
        counters = self
        pid = 1 if pid is None else pid

        class Proc:
            def __init__(self) -> None:
                self.pid = pid

            def cpu_times(self) -> ProcTimes:
                return ProcTimes(counters.own[pid], 0.0)

            def children(self, recursive: bool = False) -> list[Any]:
                return [counters.Process(p) for p in counters.own if p != 1] if pid == 1 else []

        return Proc()

    def run(self, seconds: float, own: float, foreign: float) -> None:
        """``seconds`` pass; our process uses ``own`` CPUs of them, others ``foreign`` CPUs."""
        self.now += seconds
        self.own[1] += own * seconds
        self.busy += (own + foreign) * seconds


def sampler(counters: Counters) -> CpuTimesSampler:
    return CpuTimesSampler(psutil=counters, clock=lambda: counters.now, tick=0.0)


def test_foreign_share_is_the_machine_s_busy_time_less_ours() -> None:
    counters = Counters(cpus=4)
    s = sampler(counters)
    begun = s.begin()
    counters.run(2.0, own=1.0, foreign=2.0)
    assert s.end(begun) == LoadReading(foreign_share=0.5, cpus=4, seconds=2.0)


def test_a_child_or_worker_of_this_session_is_not_foreign() -> None:
    counters = Counters(cpus=2)
    counters.own[7] = 0.0  # an xdist worker / a process the workload started, busy on the other CPU
    s = sampler(counters)
    begun = s.begin()
    counters.run(1.0, own=1.0, foreign=1.0)
    counters.own[7] += 1.0  # the 'foreign' CPU above was this child's
    reading = s.end(begun)
    assert reading is not None and reading.foreign_share == 0.0


def test_tick_slack_favours_a_quiet_verdict_and_a_short_reading_tells_nothing() -> None:
    counters = Counters(cpus=2)
    s = CpuTimesSampler(psutil=counters, clock=lambda: counters.now, tick=0.01)
    begun = s.begin()
    counters.run(1.0, own=1.0, foreign=0.02)  # two ticks of someone else: within the counters' slack
    reading = s.end(begun)
    assert reading is not None and reading.foreign_share == 0.0
    begun = s.begin()
    counters.run(0.01, own=1.0, foreign=1.0)
    assert s.end(begun) is None
    assert s.end(None) is None


def test_idle_and_io_wait_and_guest_time_are_not_busy() -> None:
    times = SystemTimes(
        user=5.0,
        nice=1.0,
        system=2.0,
        idle=50.0,
        iowait=3.0,
        irq=0.5,
        softirq=0.5,
        steal=1.0,
        guest=2.0,
        guest_nice=0.0,
    )
    assert machine_busy_seconds(times) == pytest.approx(10.0)  # guest time is inside user already


RECORDING_CONFTEST = (
    FAKE_CLOCK_SOURCE
    + """
import json, pathlib

SEEN = {}


class RecordingSampler:
    def begin(self):
        SEEN["begin"] = CLOCK.now
        return "begun"

    def end(self, begun):
        from pytest_causal_eval.measure.load import LoadReading

        SEEN["end"] = CLOCK.now
        return LoadReading(foreign_share=0.1, cpus=2, seconds=1.0)


@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_load_sampler(config):
    return RecordingSampler()


def pytest_unconfigure(config):
    pathlib.Path("seen.json").write_text(json.dumps(SEEN))
"""
)


def test_the_reading_covers_the_timed_rounds_not_the_warm_up(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(
        test_w="def test_w(causal_bench, fake_timer):\n    causal_bench(lambda: fake_timer.tick(1_000_000))\n"
    )
    args = (
        "-p",
        "no:cacheprovider",
        "--causal-eval",
        "--causal-eval-max-time=20ms",
        "--causal-eval-warmup=5ms",
    )
    result = pytester.runpytest(*args, "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1)
    seen = json.loads((pytester.path / "seen.json").read_text())
    [m] = json.loads((pytester.path / "out.json").read_text())["measurements"]
    rounds = len(m["samples"])
    # warm-up and calibration moved the clock before the first timed round; then exactly the rounds
    assert seen["begin"] >= 5_000_000
    assert seen["end"] - seen["begin"] == rounds * m["iterations"] * 1_000_000
    assert m["extra"]["load"] == {"foreign_share": 0.1, "cpus": 2, "seconds": 1.0}


def test_settle_waits_out_the_rest_of_the_window_and_then_reads() -> None:
    counters = Counters(cpus=2)
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        counters.run(seconds, own=0.0, foreign=1.0)  # the neighbour keeps its CPU while we wait

    s = CpuTimesSampler(psutil=counters, clock=lambda: counters.now, tick=0.0, sleep=sleep)
    begun = s.begin()
    counters.run(0.01, own=1.0, foreign=1.0)
    assert s.end(begun) is None  # 10 ms: too short to read
    reading = s.settle(begun)
    assert waited == [pytest.approx(0.041)]  # the rest of MIN_SECONDS, and a millisecond
    assert reading is not None and reading.foreign_share == pytest.approx(0.5)
    assert reading.seconds == pytest.approx(0.051) and reading.window == "padded"
    waited.clear()
    begun = s.begin()
    counters.run(1.0, own=1.0, foreign=0.0)
    settled = s.settle(begun)
    assert waited == [] and settled is not None and settled.foreign_share == 0.0  # long enough: no wait
    assert settled.window == "rounds"
    assert s.settle(None) is None


def test_a_settled_window_is_long_enough_that_the_tick_slack_hides_at_most_a_tenth() -> None:
    counters = Counters(cpus=2)
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        counters.run(seconds, own=0.0, foreign=1.0)

    s = CpuTimesSampler(psutil=counters, clock=lambda: counters.now, tick=0.01, sleep=sleep)
    # slack: one tick per CPU, per own process and one more = 0.04 CPU-s; 10% of 2 CPUs: 0.2 s
    assert s.settle_seconds(1) == pytest.approx(0.2)
    assert CpuTimesSampler(psutil=Counters(cpus=2), tick=1.0).settle_seconds() == 0.5  # capped
    begun = s.begin()
    counters.run(0.01, own=1.0, foreign=1.0)
    reading = s.settle(begun)
    assert waited == [pytest.approx(0.191)]
    # a neighbour on one of two CPUs throughout: 50%, of which the slack hides at most 10 points
    assert reading is not None and 0.4 <= reading.foreign_share <= 0.5


class Scripted:
    """A sampler whose windows read as scripted: ``readings[name]`` for the window begun as
    ``name`` (None: too short), and ``settle`` when ``padded`` is given."""

    def __init__(self, readings: dict[str, LoadReading | None], padded: LoadReading | None = None) -> None:
        self.readings = readings
        if padded is not None:
            self.settle = lambda begun: replace(padded, window="padded")

    def begin(self) -> object:
        return None

    def end(self, begun: object) -> LoadReading | None:
        if isinstance(begun, str) and begun in self.readings:
            return self.readings[begun]
        raise RuntimeError("counters gone")


def test_the_reading_widens_to_the_measurement_then_pads_then_says_unread() -> None:
    from pytest_causal_eval.measure.load import read_measurement

    rounds, whole = LoadReading(0.4, 2, 1.0), LoadReading(0.3, 2, 0.2)
    assert read_measurement(Scripted({"r": rounds, "w": whole}), "r", "w") == rounds.to_dict()
    assert read_measurement(Scripted({"r": None, "w": whole}), "r", "w") == {
        "foreign_share": 0.3,
        "cpus": 2,
        "seconds": 0.2,
        "window": "measurement",
    }
    padded = Scripted({"r": None, "w": None}, padded=LoadReading(0.6, 2, 0.05))
    assert read_measurement(padded, "r", "w")["window"] == "padded"
    settled_long = Scripted({"r": None, "w": None}, padded=LoadReading(0.6, 2, 0.05))
    settled_long.settle = lambda begun: whole  # long enough already: settle did not wait
    assert read_measurement(settled_long, "r", "w")["window"] == "measurement"
    # too short and no way to wait, or a sampler that fails: said, never taken as quiet
    assert read_measurement(Scripted({"r": None, "w": None}), "r", "w") == {
        "unread": "the CPU time counters gave no reading"
    }
    assert read_measurement(Scripted({}), "r", "w") == {
        "unread": "the load sampler failed (RuntimeError: counters gone)"
    }
