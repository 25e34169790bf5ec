"""The memory allocators' share of an instruction count, and that share at a fixed cost per call.

What one call of CPython's small-object allocator (pymalloc) or of the C library's ``malloc`` costs
depends on the heap's history, not on the code that calls it: which free list has a block of the
size, whether a pool fills up or empties and is relinked, whether a block lies before or after a
1 MiB boundary of pymalloc's arena map (one comparison or three per ``free``), how fragmented
glibc's bins are. Two runs of the same code on the same machine, whose harness allocated a little
differently before the count (a load reading, a log line, the other tests), counted 0.15% apart on
string building, 0.36% on an engine evaluation and 1% on an integer loop, all of it in these
functions.

So instruction mode counts each call of an allocator's entry point at a fixed cost (``FIXED_COST``,
about what a call costs when the allocator has a free block of the size at hand, measured on
x86-64 with CPython 3.11 and glibc 2.36) and leaves out what its bookkeeping functions executed
(``is_bookkeeping``). What the allocator calls for the caller (``memcpy`` of a ``realloc``, the
``memset`` of a ``calloc``) is counted as executed. The number of allocations a change adds or
removes still moves the count; how the heap happened to be laid out does not.
``--causal-eval-allocator-cost=executed`` keeps what they executed.

Pure: a ``CallgrindProfile`` in, an ``AllocatorShare`` out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light to import: instruction mode's options parse their value here
    from pytest_causal_eval.measure.callgrind import CallgrindProfile, FunctionCost

__all__ = [
    "ALLOCATOR_COSTS",
    "FIXED_COST",
    "AllocatorShare",
    "allocator_share",
    "entry_cost",
    "is_bookkeeping",
    "parse_allocator_cost",
]

ALLOCATOR_COSTS = ("fixed", "executed")

# Entry points, by the name callgrind shows (compiler suffixes stripped): the instructions a call
# counts as. pymalloc's are reached through PyObject_Malloc & co (whose own few instructions stay
# counted as executed); the C library's are the public malloc family and glibc's internal aliases.
_PYMALLOC_ENTRY = {
    "_PyObject_Malloc": 20,
    "_PyObject_Calloc": 40,
    "_PyObject_Realloc": 20,
    "_PyObject_Free": 40,
}
_LIBC_ENTRY = {
    "malloc": 50,
    "free": 50,
    "cfree": 50,
    "calloc": 70,
    "realloc": 70,
    "memalign": 90,
    "aligned_alloc": 90,
    "posix_memalign": 90,
    "valloc": 90,
    "pvalloc": 90,
    "__libc_malloc": 50,
    "__libc_free": 50,
    "__libc_calloc": 70,
    "__libc_realloc": 70,
    "__libc_memalign": 90,
    "__libc_valloc": 90,
    "__libc_pvalloc": 90,
    "__posix_memalign": 90,
}
FIXED_COST: Mapping[str, int] = {**_PYMALLOC_ENTRY, **_LIBC_ENTRY}

# What the entry points call to keep their books (inlined in most builds; counted when not).
_PYMALLOC_BOOKKEEPING = frozenset(
    {
        "allocate_from_new_pool",
        "new_arena",
        "insert_to_usedpool",
        "insert_to_freepool",
        "arena_map_get",
        "arena_map_mark_used",
        "arena_map_is_used",
        "address_in_range",
    }
)
_PYMALLOC_PREFIXES = ("pymalloc_",)
_LIBC_PREFIXES = (
    "_int_",  # _int_malloc, _int_free, _int_realloc, _int_memalign, _int_free_merge_chunk, ...
    "unlink_chunk",
    "malloc_consolidate",
    "sysmalloc",
    "systrim",
    "tcache_",
    "ptmalloc_",
    "arena_get",
    "arena_thread",
    "heap_trim",
    "munmap_chunk",
    "mremap_chunk",
    "alloc_perturb",
    "free_perturb",
    "new_heap",
    "grow_heap",
    "shrink_heap",
    "_mid_memalign",
    "__glibc_morecore",
    "__default_morecore",
    "__sbrk",
    "sbrk",
    "__brk",
    "brk",
)
# ``malloc@@GLIBC_2.2.5``, ``unlink_chunk.constprop.0``, ``f'2`` (a recursion depth).
_SUFFIX = re.compile(r"(?:@@?[A-Z_]+[\d.]*|\.(?:constprop|part|isra|cold|lto_priv)\.\d+|'\d+)+$")


def parse_allocator_cost(text: str) -> str:
    lowered = str(text).strip().lower()
    if lowered not in ALLOCATOR_COSTS:
        raise ValueError(f"expected fixed or executed, got {text!r}")
    return lowered


def _plain(name: str) -> str:
    return _SUFFIX.sub("", name)


def _in_libc(function: FunctionCost) -> bool:
    base = function.key.object.rsplit("/", 1)[-1]
    return base.startswith(("libc.so", "libc-", "ld-musl", "libc.musl"))


def entry_cost(function: FunctionCost) -> int | None:
    """The fixed cost a call of this allocator entry point counts as; None for any other function."""
    name = _plain(function.name)
    if name in _PYMALLOC_ENTRY:
        return _PYMALLOC_ENTRY[name]
    if name in _LIBC_ENTRY and _in_libc(function):
        return _LIBC_ENTRY[name]
    return None


def is_bookkeeping(function: FunctionCost) -> bool:
    """One of the allocators' own internal functions (whose instructions the fixed cost stands for)."""
    name = _plain(function.name)
    if name in _PYMALLOC_BOOKKEEPING or name.startswith(_PYMALLOC_PREFIXES):
        return True
    return _in_libc(function) and name.startswith(_LIBC_PREFIXES)


@dataclass(frozen=True)
class AllocatorShare:
    """The allocators' part of one dump's instruction count (event ``Ir``)."""

    calls: int  # calls of the entry points
    executed: int  # instructions the entry points and their bookkeeping executed themselves
    fixed: int  # the same calls at their fixed cost

    def counted(self, total: int) -> int:
        """``total`` with the allocators' executed instructions replaced by their fixed cost."""
        return max(0, total - self.executed + self.fixed)

    def to_dict(self, calls: int = 1) -> dict[str, float]:
        """Per call of the workload (``calls`` calls were counted)."""
        return {"calls": self.calls / calls, "executed": self.executed / calls, "fixed": self.fixed / calls}


def allocator_share(profile: CallgrindProfile, event: str = "Ir") -> AllocatorShare:
    """What the allocator entry points and their bookkeeping executed in ``profile``, and how many
    calls of the entry points it saw (their fixed cost summed)."""
    calls = executed = fixed = 0
    for function in profile.functions:
        cost = entry_cost(function)
        if cost is not None:
            calls += function.calls
            fixed += function.calls * cost
            executed += function.self_cost.get(event, 0)
        elif is_bookkeeping(function):
            executed += function.self_cost.get(event, 0)
    return AllocatorShare(calls=calls, executed=executed, fixed=fixed)
