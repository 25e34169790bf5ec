"""The allocators' share of a count, at a fixed cost per call (pure: committed callgrind files)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from pytest_causal_eval.measure.allocator import (
    FIXED_COST,
    AllocatorShare,
    allocator_share,
    entry_cost,
    is_bookkeeping,
    parse_allocator_cost,
    scan_allocator_share,
)
from pytest_causal_eval.measure.callgrind import FunctionCost, FunctionKey, read_callgrind
from pytest_causal_eval.measure.instructions import read_count

FIXTURES = Path(__file__).parent / "fixtures"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBPYTHON = "/opt/python3.11/lib/libpython3.11.so.1.0"


def _function(name: str, obj: str = LIBC, self_cost: int = 100, calls: int = 2) -> FunctionCost:
    return FunctionCost(FunctionKey(obj, "???", name), {"Ir": self_cost}, {"Ir": self_cost}, calls)


@pytest.mark.parametrize(
    ("stem", "executed_apart"),
    [("strings_heap", 23119), ("sort_heap", -1977)],  # pymalloc's free; glibc's _int_malloc
)
def test_two_heap_histories_count_the_same_code_alike_at_a_fixed_cost(stem: str, executed_apart: int) -> None:
    """Real dumps of one workload counted in two processes that allocated differently before."""
    a, b = (read_callgrind(FIXTURES / f"{stem}_{side}.callgrind") for side in "ab")
    assert a.total() - b.total() == executed_apart  # as executed: the heap's history shows
    share_a, share_b = allocator_share(a), allocator_share(b)
    assert share_a.calls == share_b.calls > 500
    assert share_a.fixed == share_b.fixed
    assert share_a.counted(a.total()) == share_b.counted(b.total())


def test_numpys_dispatch_cache_lookups_count_at_a_fixed_cost_with_what_they_call() -> None:
    """Real dumps: the same numpy workload counted 0.47% apart as executed, in lookups of numpy's
    dispatch cache (keyed by addresses) and the ``memcmp`` they call; 0.03% apart as counted (the
    rest: ``memset`` on buffers aligned differently)."""
    a, b = (read_callgrind(FIXTURES / f"numpy_dispatch_{side}.callgrind") for side in "ab")
    assert a.total() - b.total() == 2861
    lookup_a, lookup_b = (
        a.function("PyArrayIdentityHash_GetItem")[0],
        b.function("PyArrayIdentityHash_GetItem")[0],
    )
    assert lookup_a.calls == lookup_b.calls == 60
    assert lookup_a.inclusive["Ir"] - lookup_b.inclusive["Ir"] == 2280  # most of what differs
    assert entry_cost(lookup_a) == FIXED_COST["PyArrayIdentityHash_GetItem"] == 100
    share_a, share_b = allocator_share(a), allocator_share(b)
    assert share_a.fixed == share_b.fixed
    counted_a, counted_b = share_a.counted(a.total()), share_b.counted(b.total())
    assert counted_a - counted_b == 184 and abs(counted_a / counted_b - 1) < 0.0005
    # Its whole inclusive cost is replaced, memcmp included (memcmp's other callers keep theirs).
    only_lookups = share_a.executed - share_b.executed - (lookup_a.inclusive["Ir"] - lookup_b.inclusive["Ir"])
    assert abs(only_lookups) < 500  # the allocators' own part of the difference


def test_context_variable_lookups_count_at_a_fixed_cost() -> None:
    """Real dumps: numpy's allocator variable (never set) read from the context's hash trie on
    every array allocated or freed; in one run its slot was shared and each lookup compared keys."""
    a, b = (read_callgrind(FIXTURES / f"numpy_context_{side}.callgrind") for side in "ab")
    assert b.total() - a.total() == 7462
    find_a, find_b = a.function("_PyHamt_Find")[0], b.function("_PyHamt_Find")[0]
    assert find_a.calls == find_b.calls == 80
    assert find_b.inclusive["Ir"] - find_a.inclusive["Ir"] == 8640
    counted_a, counted_b = (allocator_share(p).counted(p.total()) for p in (a, b))
    assert abs(counted_a / counted_b - 1) < 0.0002, (counted_a, counted_b)


def test_the_type_caches_lookups_count_at_a_fixed_cost(tmp_path: Path) -> None:
    """Real dumps (gzipped) of an engine evaluation counted in two processes that allocated
    differently before: 0.063% apart with the allocators at their fixed cost, most of it in
    CPython's type attribute cache (misses walking the MRO's dicts) and in a sort whose input
    order follows addresses; 0.003% with the cache's lookups at a fixed cost too (0.022% the widest
    over eight such processes)."""
    profiles = []
    for side in "ab":
        path = tmp_path / f"engine_{side}.callgrind"
        path.write_bytes(gzip.decompress((FIXTURES / f"engine_heap_{side}.callgrind.gz").read_bytes()))
        with path.open() as lines:
            assert scan_allocator_share(lines) == allocator_share(read_callgrind(path))
        profiles.append(read_callgrind(path))
    a, b = profiles
    lookup_a, lookup_b = a.function("_PyType_Lookup")[0], b.function("_PyType_Lookup")[0]
    assert lookup_a.calls == lookup_b.calls > 1000 and lookup_a.inclusive["Ir"] != lookup_b.inclusive["Ir"]
    counted_a, counted_b = (allocator_share(p).counted(p.total()) for p in (a, b))
    assert abs(counted_a / counted_b - 1) < 0.0003, (counted_a, counted_b)


def test_a_lookups_calls_are_included_but_an_allocator_it_calls_is_replaced_once() -> None:
    text = """\
events: Ir
ob=(1) /opt/venv/lib/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so
fn=(1) caller
5 1000
cfn=(2) PyArrayIdentityHash_GetItem
calls=3 0
5 700
fn=(2)
0 240
cob=(3) /usr/lib/libc.so.6
cfn=(4) __memcmp_avx2_movbe
calls=5 0
0 400
cob=(3)
cfn=(5) malloc
calls=1 0
0 60
ob=(3)
fn=(4)
0 400
fn=(5)
0 60
"""
    share = scan_allocator_share(text.splitlines(keepends=True))
    expected_fixed = 3 * FIXED_COST["PyArrayIdentityHash_GetItem"] + FIXED_COST["malloc"]
    assert share == AllocatorShare(calls=4, executed=240 + 400 + 60, fixed=expected_fixed)
    assert not entry_cost(_function("PyArrayIdentityHash_GetItem", "/opt/project/libmine.so"))


def test_the_share_is_the_entry_points_and_their_bookkeeping() -> None:
    profile = read_callgrind(FIXTURES / "strings_heap_a.callgrind")
    free, malloc = profile.function("_PyObject_Free")[0], profile.function("_PyObject_Malloc")[0]
    share = allocator_share(profile)
    assert share.executed >= free.self_cost["Ir"] + malloc.self_cost["Ir"]
    pymalloc_fixed = free.calls * FIXED_COST["_PyObject_Free"] + malloc.calls * FIXED_COST["_PyObject_Malloc"]
    assert share.fixed >= pymalloc_fixed
    # The public wrappers stay as executed: a few instructions per call, the same in every run.
    assert entry_cost(profile.function("PyObject_Free")[0]) is None


def test_entry_points_and_bookkeeping_are_recognised_by_name_and_library() -> None:
    assert entry_cost(_function("malloc")) == FIXED_COST["malloc"]
    assert entry_cost(_function("free@@GLIBC_2.2.5")) == FIXED_COST["free"]
    assert entry_cost(_function("_PyObject_Free", LIBPYTHON)) == FIXED_COST["_PyObject_Free"]
    assert entry_cost(_function("_PyObject_Malloc", "/opt/python3.11/bin/python3.11")) is not None  # static
    assert entry_cost(_function("malloc", "/opt/project/libmine.so")) is None  # not the C library's
    # Lookups in caches indexed by addresses: CPython's type attribute cache, numpy's dispatch cache.
    assert entry_cost(_function("_PyType_Lookup", LIBPYTHON)) == FIXED_COST["_PyType_Lookup"] == 33
    assert entry_cost(_function("_PyType_Lookup", "/opt/python3.11/bin/python3.11")) == 33  # static
    assert entry_cost(_function("_PyType_Lookup", "/opt/project/libmine.so")) is None
    assert entry_cost(_function("_PyHamt_Find", LIBPYTHON)) == FIXED_COST["_PyHamt_Find"] == 80
    assert is_bookkeeping(_function("unlink_chunk.constprop.0"))
    assert is_bookkeeping(_function("_int_malloc"))
    assert is_bookkeeping(_function("allocate_from_new_pool", LIBPYTHON))
    assert not is_bookkeeping(_function("_int_malloc", "/opt/project/libmine.so"))
    assert not is_bookkeeping(_function("__memcpy_avx_unaligned_erms"))  # the copy a realloc makes: real work
    assert not is_bookkeeping(_function("PyObject_Free", LIBPYTHON))


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.callgrind")))
def test_the_one_pass_scan_agrees_with_the_full_reader(fixture: str) -> None:
    """Every committed dump: with cache events, jumps and instruction positions, from 3.11 and 3.12."""
    path = FIXTURES / fixture
    with path.open() as lines:
        scanned = scan_allocator_share(lines)
    assert scanned == allocator_share(read_callgrind(path))


def test_the_scan_reads_compressed_names_and_skips_call_costs() -> None:
    text = """\
events: Ir
fn=(1) work
5 1000
cob=(2) /usr/lib/libc.so.6
cfn=(3) malloc
calls=4 0
5 400
ob=(2)
fn=(3)
0 160
cfn=(4) _int_malloc
calls=1 0
0 90
fn=(4)
0 90
"""
    share = scan_allocator_share(text.splitlines(keepends=True))
    assert share == AllocatorShare(calls=4, executed=160 + 90, fixed=4 * FIXED_COST["malloc"])


def test_counted_replaces_the_executed_part_and_never_goes_below_zero() -> None:
    share = AllocatorShare(calls=10, executed=900, fixed=500)
    assert share.counted(10_000) == 9_600
    assert share.counted(100) == 0
    assert share.to_dict(calls=2) == {"calls": 5.0, "executed": 450.0, "fixed": 250.0}


def test_read_count_applies_the_fixed_cost_only_when_asked(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1.1"
    shutil.copy(FIXTURES / "strings_heap_a.callgrind", dump)
    executed = read_count("strings", 1, dump, fixed_allocator=False)
    fixed = read_count("strings", 1, dump, fixed_allocator=True)
    share = allocator_share(read_callgrind(dump))
    assert executed.allocator is None and fixed.allocator == share
    assert fixed.totals["Ir"] == executed.totals["Ir"] - share.executed + share.fixed


@pytest.mark.parametrize("text", ["fixed", " Executed "])
def test_allocator_cost_values(text: str) -> None:
    assert parse_allocator_cost(text) == text.strip().lower()


def test_an_unknown_allocator_cost_names_the_choices() -> None:
    with pytest.raises(ValueError, match="expected fixed or executed, got 'measured'"):
        parse_allocator_cost("measured")
