"""The callgrind output reader, on files real valgrind wrote (see fixtures/README.md) and on edge cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_causal_eval.measure.callgrind import (
    CACHE_SIM_EVENTS,
    CallgrindFormatError,
    FunctionKey,
    PerfMap,
    estimated_cycles,
    name_python_frames,
    parse_callgrind,
    read_callgrind,
    read_summary,
)

FIXTURES = Path(__file__).parent / "fixtures"
LIBPYTHON = "/opt/python3.11/lib/libpython3.11.so.1.0"


def test_totals_events_and_dump_name_of_a_real_dump() -> None:
    profile = read_callgrind(FIXTURES / "square_sum.callgrind")
    assert profile.events == ("Ir",)
    assert profile.totals == {"Ir": 63639}  # the "totals:" line, not the header's "summary:"
    assert profile.trigger == "Client Request: causal-eval #1 square_sum"
    assert profile.dump_name == "causal-eval #1 square_sum"
    assert profile.header["creator"] == "callgrind-3.19.0"
    assert profile.positions == ("line",)
    # Every instruction belongs to exactly one function.
    assert sum(f.self_cost["Ir"] for f in profile.functions) == profile.total("Ir")
    assert len(profile.functions) == 160


def test_self_and_inclusive_costs_match_callgrind_annotate() -> None:
    # Reference figures from ``callgrind_annotate --inclusive=yes`` on the same file.
    profile = read_callgrind(FIXTURES / "square_sum.callgrind")
    (builtin_sum,) = profile.function("builtin_sum")
    assert builtin_sum.key == FunctionKey(
        LIBPYTHON, "/build/Python-3.11.7/Python/clinic/bltinmodule.c.h", "builtin_sum"
    )
    assert builtin_sum.inclusive["Ir"] == 48744
    assert builtin_sum.self_cost["Ir"] == 3188
    assert builtin_sum.calls == 2  # two counted calls of the workload
    (iter_next,) = profile.function("PyIter_Next")
    assert (iter_next.inclusive["Ir"], iter_next.calls) == (42360, 102)  # 2 x (50 items + StopIteration)


def test_names_are_resolved_from_compressed_ids() -> None:
    profile = read_callgrind(FIXTURES / "square_sum.callgrind")
    for f in profile.functions:
        for part in (f.key.object, f.key.file, f.key.name):
            assert not part.startswith("("), f.key


def test_functions_are_ordered_by_inclusive_cost_then_key() -> None:
    profile = read_callgrind(FIXTURES / "square_sum.callgrind")
    order = [(-f.inclusive["Ir"], -f.self_cost["Ir"], f.key) for f in profile.functions]
    assert order == sorted(order)
    assert read_callgrind(FIXTURES / "square_sum.callgrind") == profile  # deterministic


def test_cache_simulation_events_and_estimated_cycles() -> None:
    profile = read_callgrind(FIXTURES / "square_sum_cachesim.callgrind")
    assert profile.events == CACHE_SIM_EVENTS
    assert profile.totals == {
        "Ir": 63665,
        "Dr": 19203,
        "Dw": 12541,
        "I1mr": 509,
        "D1mr": 236,
        "D1mw": 49,
        "ILmr": 253,
        "DLmr": 163,
        "DLmw": 39,
    }
    for event in CACHE_SIM_EVENTS:
        assert sum(f.self_cost[event] for f in profile.functions) == profile.totals[event]
    # L1 misses 794, LL misses 455: L1 hits 95409 - 794, LL hits 794 - 455, RAM hits 455.
    assert estimated_cycles(profile.totals) == (95409 - 794) + 5 * (794 - 455) + 35 * 455 == 112235
    (builtin_sum,) = profile.function("builtin_sum")
    assert builtin_sum.inclusive["D1mr"] == 40


def test_estimated_cycles_needs_every_cache_event() -> None:
    assert estimated_cycles({"Ir": 100}) is None
    assert estimated_cycles(dict.fromkeys(CACHE_SIM_EVENTS, 0) | {"Ir": 7}) == 7


def test_jump_lines_and_instruction_positions_are_read() -> None:
    # --collect-jumps=yes --dump-instr=yes: jump=/jcnd= lines with jfi=/jfn= targets, hex positions.
    profile = read_callgrind(FIXTURES / "square_sum_jumps.callgrind")
    assert profile.positions == ("instr", "line")
    assert profile.totals == {"Ir": 63643}
    assert sum(f.self_cost["Ir"] for f in profile.functions) == 63643
    (builtin_sum,) = profile.function("builtin_sum")
    assert builtin_sum.inclusive["Ir"] == 48744


SYNTHETIC = """\
# callgrind format
version: 1
creator: hand-written
positions: line
events: Ir Dr
desc: Trigger: Client Request: demo

ob=(1) /lib/app.so
fl=(1) main.c
fn=(1) main
10 5 1
+2 3
cfn=(2) helper
calls=2 20
* 40 10
cfl=(2) other.c
cfn=(3) leaf'2
calls=1 7
12 9
fn=(2)
20 40 10
fi=(3) inlined.h
21 1
fe=(1)
cob=(2) /lib/other.so
cfi=(4) lib.c
cfn=(4) external
calls=3 0
22 6 3
ob=(2)
fl=(4)
fn=(4)
0 6 3
ob=(1)
fl=(2)
fn=(3)
7 9
cfn=(3)
calls=1 7
8 4
jump=1 +1
* 0
totals: 64 14
"""


def test_synthetic_profile_exercises_the_format() -> None:
    profile = parse_callgrind(SYNTHETIC)
    by_name = {f.name: f for f in profile.functions}
    main, helper, leaf, external = by_name["main"], by_name["helper"], by_name["leaf'2"], by_name["external"]
    assert main.self_cost == {"Ir": 8, "Dr": 1}  # a missing count is zero
    assert main.inclusive == {"Ir": 8 + 40 + 9, "Dr": 1 + 10}
    assert helper.key == FunctionKey("/lib/app.so", "main.c", "helper")
    assert helper.self_cost == {"Ir": 41, "Dr": 10}  # fi=/fe= stay in the function
    assert helper.inclusive == {"Ir": 47, "Dr": 13}
    assert helper.calls == 2
    assert external.key == FunctionKey("/lib/other.so", "lib.c", "external")  # cob=/cfi= of the call
    assert external.calls == 3
    # A call of a function to itself is not added again to its inclusive cost.
    assert leaf.key == FunctionKey("/lib/app.so", "other.c", "leaf'2")
    assert leaf.self_cost["Ir"] == 9 and leaf.inclusive["Ir"] == 9
    assert leaf.base_name == "leaf"
    assert profile.function("leaf") == [leaf]
    assert profile.totals == {"Ir": 64, "Dr": 14}
    assert sum(f.self_cost["Ir"] for f in profile.functions) == 64
    assert profile.dump_name == "demo"


def test_totals_fall_back_to_summary_then_to_the_sum() -> None:
    body = "events: Ir\nfn=(1) f\n1 5\n"
    assert parse_callgrind("summary: 9\n" + body).totals == {"Ir": 9}
    assert parse_callgrind(body).totals == {"Ir": 5}
    assert parse_callgrind("events: Ir\n").functions == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fn=(1) f\n1 2\n", "line 1: cost data before the 'events:' header line"),
        ("events: Ir\n1 2\n", "line 2: a cost line before any fn="),
        ("events: Ir\nfn=(7)\n", "line 2: fn=(7) refers to an id never defined"),
        ("events: Ir\nfn=(1) f\n1 2 3\n", "line 3: 2 counts for 1 events"),
        ("events: Ir\nfn=(1) f\n1 x\n", "line 3: expected event counts, got 'x'"),
        ("events: Ir\nfn=(1) f\ncfn=(2) g\ncalls=1 0\n", "ends after a calls= line"),
        ("events: Ir\nfn=(1) f\ncalls=1 0\n", "without a preceding cfn="),
        ("positions: line\n", "without an 'events:' line"),
        ("events: Ir\nthis is not callgrind\n", "line 2: unrecognised line"),
        ("events: Ir\ntotals: 1 2\n", "totals have 2 counts for 1 events"),
    ],
)
def test_malformed_input_names_the_line(text: str, message: str) -> None:
    with pytest.raises(CallgrindFormatError, match=re.escape(message)):
        parse_callgrind(text)


TRAMPOLINES = """\
events: Ir
ob=(1) ???
fl=(1) ???
fn=(1) 0x000000000547e72c
0 4
cfn=(2) 0x000000000547e737'2
calls=2 0
0 90
fn=(2)
0 90
fn=(3) 0x0000000000001000
0 1
"""

PERF_MAP = """\
547e72c b py::outer:/src/app.py
547e737 b py::inner.<locals>.<genexpr>:/src/app.py
9000 10 [jit] something else
"""


def test_python_trampolines_are_named_from_the_perf_map() -> None:
    perf_map = PerfMap.parse(PERF_MAP)
    assert perf_map.name_of(0x547E72C) == "py::outer:/src/app.py"
    assert perf_map.name_of(0x547E736) == "py::outer:/src/app.py"  # inside its 11 bytes
    assert perf_map.name_of(0x547E742) is None  # past the last trampoline's end
    assert perf_map.name_of(0x9005) == "[jit] something else"
    profile = name_python_frames(parse_callgrind(TRAMPOLINES), perf_map)
    keys = [f.key for f in profile.functions]
    assert keys == [
        FunctionKey("python", "/src/app.py", "py::outer"),
        FunctionKey("python", "/src/app.py", "py::inner.<locals>.<genexpr>'2"),
        FunctionKey("???", "???", "0x0000000000001000"),  # not in the map: left as it was
    ]
    assert profile.functions[0].inclusive == {"Ir": 94}
    assert profile.function("py::inner.<locals>.<genexpr>")[0].calls == 2


def test_a_malformed_perf_map_names_the_line() -> None:
    with pytest.raises(CallgrindFormatError, match="perf map line 2"):
        PerfMap.parse("1000 10 py::f:x.py\nnot a map line\n")


@pytest.mark.parametrize("name", ["square_sum", "square_sum_cachesim", "square_sum_jumps"])
def test_the_summary_read_from_head_and_tail_agrees_with_a_full_read(name: str) -> None:
    full = read_callgrind(FIXTURES / f"{name}.callgrind")
    summary = read_summary(FIXTURES / f"{name}.callgrind")
    assert (summary.events, summary.totals, summary.trigger) == (full.events, full.totals, full.trigger)


def test_the_summary_of_a_file_without_totals_falls_back_to_a_full_read(tmp_path: Path) -> None:
    path = tmp_path / "old.callgrind"
    path.write_text("events: Ir Dr\nsummary: 5 1\nfn=(1) f\n1 5 1\n")
    assert read_summary(path).totals == {"Ir": 5, "Dr": 1}
    path.write_text("events: Ir\nfn=(1) f\n1 5\ntotals: 5 6\n")
    with pytest.raises(CallgrindFormatError, match="totals have 2 counts for 1 events"):
        read_summary(path)
