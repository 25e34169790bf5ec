"""What can be checked of the counter without valgrind: the arithmetic of a count, the time limit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pytest_causal_eval.measure.callgrind import CACHE_SIM_EVENTS
from pytest_causal_eval.measure.instructions import (
    MAX_SETTLE_CALLS,
    SETTLE_INSTRUCTIONS,
    CountTimeoutError,
    InstructionCount,
    alarm_after,
    fill_plan,
    gc_state,
    settle_calls,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_per_call_figures_subtract_the_counting_overhead() -> None:
    count = InstructionCount(
        label="w",
        calls=4,
        totals={"Ir": 10_400},
        path=FIXTURES / "square_sum.callgrind",
        overhead={"Ir": 400},
    )
    assert count.instructions == 10_000
    assert count.per_call == 2_500
    assert count.event_per_call("Ir") == 2_500 and count.event_per_call("Dr") is None
    assert count.estimated_cycles_per_call is None  # no cache simulation
    never_negative = InstructionCount("w", 1, {"Ir": 100}, FIXTURES / "square_sum.callgrind", {"Ir": 150})
    assert never_negative.per_call == 0


def test_estimated_cycles_per_call_uses_the_net_cache_events() -> None:
    totals = dict(zip(CACHE_SIM_EVENTS, [1000, 300, 100, 20, 10, 5, 4, 3, 2], strict=True))
    overhead = dict.fromkeys(CACHE_SIM_EVENTS, 0) | {"Ir": 200}
    count = InstructionCount("w", 2, totals, FIXTURES / "square_sum_cachesim.callgrind", overhead)
    # net Ir 800: L1 hits 800 + 400 - 35 = 1165, LL hits 35 - 9 = 26, RAM hits 9
    assert count.estimated_cycles_per_call == (1165 + 5 * 26 + 35 * 9) / 2


def test_the_profile_is_read_from_the_dump_on_first_use() -> None:
    count = InstructionCount("w", 2, {"Ir": 63639}, FIXTURES / "square_sum.callgrind")
    assert count.profile.total("Ir") == 63639
    assert count.profile is count.profile  # read once
    assert count.profile.function("builtin_sum")[0].calls == 2


def test_a_count_past_its_time_limit_raises_with_the_label() -> None:
    with (
        pytest.raises(
            CountTimeoutError, match=r"slow workload: the counted calls did not finish within 0.05 s"
        ),
        alarm_after(0.05, "slow workload"),
    ):
        while True:
            pass


def test_the_time_limit_is_lifted_afterwards_and_ignored_off_the_main_thread() -> None:
    with alarm_after(10, "quick"):
        pass
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with alarm_after(0.01, "thread"):  # SIGALRM only reaches the main thread: no limit here
                threading.Event().wait(0.05)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == []


def test_gc_state_is_recorded() -> None:
    state = gc_state()
    assert set(state) == {"enabled", "thresholds", "frozen"}
    assert isinstance(state["thresholds"], list) and len(state["thresholds"]) == 3


@pytest.mark.parametrize(
    ("per_call", "calls", "extra"),
    [
        (0.0, 1, MAX_SETTLE_CALLS),  # an empty workload: as many as allowed
        (97_000.0, 1, MAX_SETTLE_CALLS),
        (SETTLE_INSTRUCTIONS / 4, 1, 4),  # as many as fit in the budget
        (SETTLE_INSTRUCTIONS / 4, 2, 2),  # the calls of one count together
        (SETTLE_INSTRUCTIONS * 0.9, 1, 1),  # below the budget: at least one, then a second count
        (SETTLE_INSTRUCTIONS, 1, 0),  # at or above it: the first count stands
        (SETTLE_INSTRUCTIONS / 2, 3, 0),
    ],
)
def test_cheap_workloads_are_counted_again_after_more_warm_up_calls(
    per_call: float, calls: int, extra: int
) -> None:
    assert settle_calls(per_call, calls) == extra


MALLOC_STATS = """Small block threshold = 512, in 32 size classes.

class   size   num pools   blocks in use  avail blocks
-----   ----   ---------   -------------  ------------
    0     16           1              43           978
    1     32           2             764           256
   31    512           2              31            31

# arenas allocated total           =                   12
3 arenas * 1048576 bytes/arena     =            3,145,728

# bytes in allocated blocks        =            2,520,000
36 unused pools * 16384 bytes      =              589,824
"""


def test_the_fill_takes_exactly_the_free_blocks_the_allocator_reports() -> None:
    # A 16 KiB pool holds 31 blocks of 512 bytes after its 48-byte header: 32 per unused pool
    # spilled into a new arena, and where the workload's pools then fell moved its count by 1%.
    assert fill_plan(MALLOC_STATS) == [(16, 978), (32, 256), (512, 31), (512, 36 * 31)]
    assert fill_plan(MALLOC_STATS.replace("* 16384 bytes", "* 4096 bytes"))[-1] == (512, 36 * 7)
    assert fill_plan("") == []  # not CPython's allocator: nothing to take


def test_the_perf_map_kept_beside_a_dump_has_only_the_entries_of_its_own_activation(tmp_path: Path) -> None:
    """CPython appends every activation's trampolines to one map: an earlier activation's entries name
    no frame of this count, and the map itself is removed at exit, so the count keeps its own part."""
    from pytest_causal_eval.measure.instructions import PERF_MAP_SUFFIX, _with_perf_map

    source = tmp_path / "perf-7.map"
    earlier = "7f00000 b py::old:/src/a.py\n"
    source.write_text(earlier + "7f10000 b py::score:/src/a.py\n7f1000b b py::weight:/src/a.py\n")
    dump = tmp_path / "callgrind.out.7.3"
    counted = _with_perf_map(InstructionCount("w", 1, {"Ir": 10}, dump), source, len(earlier))
    assert counted.perf_map_path == tmp_path / f"callgrind.out.7.3{PERF_MAP_SUFFIX}"
    assert (
        counted.perf_map_path.read_text() == "7f10000 b py::score:/src/a.py\n7f1000b b py::weight:/src/a.py\n"
    )
    assert counted.perf_map is not None and counted.perf_map.names == (
        "py::score:/src/a.py",
        "py::weight:/src/a.py",
    )
    gone = _with_perf_map(InstructionCount("w", 1, {"Ir": 10}, dump), tmp_path / "perf-8.map", 0)
    assert gone.perf_map is None and gone.perf_map_path is None  # no map written: frames stay unnamed
