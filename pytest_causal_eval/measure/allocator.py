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

Pure: a ``CallgrindProfile`` in, an ``AllocatorShare`` out (``allocator_share``); or, cheap enough
to run inside the counted process under valgrind, the file's lines read once for the allocators'
functions alone (``scan_allocator_share``: a full parse of an engine evaluation's 300 kB dump took
0.6 s natively, several under valgrind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
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
    "scan_allocator_share",
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


def _in_numpy(obj: str) -> bool:
    return "_multiarray_umath" in obj.rsplit("/", 1)[-1]


def _in_python(obj: str) -> bool:
    return obj.rsplit("/", 1)[-1].startswith(("libpython", "python"))  # shared library or static binary


# Lookups in caches indexed by the addresses of objects, whose cost (probes, key comparisons, a
# miss that does the work again) is decided by where those objects happen to lie: counted at a
# fixed cost per call, what they call included, as if every lookup hit at once.
# - numpy's ufunc dispatch cache, keyed by the addresses of its DType classes (it compares keys
#   with ``memcmp``): the same numpy workload counted 0.56% apart for command lines of different
#   lengths (the interpreter's copies of the arguments move the heap), all of it in these lookups.
#   100: a lookup that finds its key at the first probe.
# - CPython's type attribute cache (``_PyType_Lookup``): 4096 slots indexed by the type's version
#   tag and the address of the attribute's name, so two hot pairs that share a slot evict each
#   other and each miss walks the MRO's dictionaries. An engine evaluation counted 0.06% apart over
#   eight heap histories, 0.02% with this. 33: a hit on CPython 3.11. What this hides: a change
#   that makes the cache miss by itself (a class modified on every call) costs the count only
#   the modification, not the slower lookups after it; time mode sees them.
# - CPython's context variables: ``ContextVar.get`` caches only a value it found, so a variable that
#   was never set is looked up in the context's hash trie on every read, and the trie is keyed by
#   the variables' hashes, which mix in their addresses. numpy reads its allocator's variable (a C
#   static no Python code can reach) on every array it allocates or frees: in one run of four the
#   same workload counted 1.5% more, its lookups comparing keys that shared a slot with another
#   variable. 80: a lookup decided at the trie's first level.
# By name: (the fixed cost, whether callgrind's object is the library that defines the function).
_ADDRESS_HASHED_LOOKUPS: Mapping[str, tuple[int, Callable[[str], bool]]] = {
    "PyArrayIdentityHash_GetItem": (100, _in_numpy),
    "_PyType_Lookup": (33, _in_python),
    "_PyHamt_Find": (80, _in_python),
}
FIXED_COST: Mapping[str, int] = {
    **_PYMALLOC_ENTRY,
    **_LIBC_ENTRY,
    **{name: cost for name, (cost, _) in _ADDRESS_HASHED_LOOKUPS.items()},
}

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


def _in_libc(obj: str) -> bool:
    return obj.rsplit("/", 1)[-1].startswith(("libc.so", "libc-", "ld-musl", "libc.musl"))


def _lookup_cost(name: str, obj: str) -> int | None:
    cost, defined_in = _ADDRESS_HASHED_LOOKUPS.get(_plain(name), (None, None))
    return cost if defined_in is not None and defined_in(obj) else None


def _entry_cost(name: str, obj: str) -> int | None:
    plain = _plain(name)
    if plain in _PYMALLOC_ENTRY:
        return _PYMALLOC_ENTRY[plain]
    if plain in _LIBC_ENTRY and _in_libc(obj):
        return _LIBC_ENTRY[plain]
    return _lookup_cost(name, obj)


def _is_bookkeeping(name: str, obj: str) -> bool:
    plain = _plain(name)
    if plain in _PYMALLOC_BOOKKEEPING or plain.startswith(_PYMALLOC_PREFIXES):
        return True
    return _in_libc(obj) and plain.startswith(_LIBC_PREFIXES)


def entry_cost(function: FunctionCost) -> int | None:
    """The fixed cost a call of this allocator entry point (or address-hashed lookup) counts as;
    None for any other function."""
    return _entry_cost(function.name, function.key.object)


def is_bookkeeping(function: FunctionCost) -> bool:
    """One of the allocators' own internal functions (whose instructions the fixed cost stands for)."""
    return _is_bookkeeping(function.name, function.key.object)


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
            lookup = _lookup_cost(function.name, function.key.object) is not None
            executed += (function.inclusive if lookup else function.self_cost).get(event, 0)
        elif is_bookkeeping(function):
            executed += function.self_cost.get(event, 0)
    return AllocatorShare(calls=calls, executed=executed, fixed=fixed)


_COMPRESSED = re.compile(r"^\((\d+)\)(?:\s(.*))?$")


def scan_allocator_share(lines: Iterable[str], event: str = "Ir") -> AllocatorShare:
    """``allocator_share`` of a callgrind file's lines, read once, keeping nothing but the names.

    The same rules as the full reader (``measure.callgrind``): a ``calls=`` line's callee is
    ``cob``/``cfn`` (``cob`` defaulting to the current ``ob``), the cost line after it is the call's
    inclusive cost (not the caller's own), ``(id) name`` compression per name space (``ob``/``cob``,
    ``fn``/``cfn``), no cost line after ``jump=``/``jcnd=``.
    """
    names: dict[str, dict[str, str]] = {"ob": {}, "fn": {}}
    positions, index = 1, 0  # a cost line: the position(s), then the events' counts
    ob = ""
    cob: str | None = None
    cfn: str | None = None
    counting = False  # the current function is an allocator's: its cost lines are summed
    lookup = False  # ... an address-hashed lookup: the inclusive costs of its calls are summed too
    skip_next = False  # the next line is a call's cost or a jump's position
    take_next = False  # the next line is the cost of a call the lookup made
    calls = executed = fixed = 0
    for raw in lines:
        first = raw[:1]
        if first.isdigit() or first in "+-*":
            if skip_next:
                skip_next = False
                if take_next:
                    take_next = False
                    tokens = raw.split()
                    if len(tokens) > positions + index:
                        executed += int(tokens[positions + index])
            elif counting:
                tokens = raw.split()
                if len(tokens) > positions + index:
                    executed += int(tokens[positions + index])
            continue
        skip_next = take_next = False
        spec, eq, value = raw.rstrip("\n").partition("=")
        if not eq:
            if raw.startswith("events:"):
                events = raw[len("events:") :].split()
                index = events.index(event) if event in events else len(events)  # absent: nothing
            elif raw.startswith("positions:"):
                positions = len(raw[len("positions:") :].split()) or 1
            continue
        if spec in ("fn", "cfn", "ob", "cob"):
            space = names["fn" if spec.endswith("fn") else "ob"]
            match = _COMPRESSED.match(value.strip())
            text = value.strip()
            if match is not None:
                text = match.group(2) if match.group(2) is not None else space.get(match.group(1), "")
                if match.group(2) is not None:
                    space[match.group(1)] = text
            if spec == "ob":
                ob = text
            elif spec == "cob":
                cob = text
            elif spec == "cfn":
                cfn = text
            else:
                counting = _entry_cost(text, ob) is not None or _is_bookkeeping(text, ob)
                lookup = _lookup_cost(text, ob) is not None
                cob = cfn = None
        elif spec == "calls":
            callee_fixed = False
            if cfn is not None:
                callee = cob if cob is not None else ob
                cost = _entry_cost(cfn, callee)
                callee_fixed = cost is not None or _is_bookkeeping(cfn, callee)
                if cost is not None:
                    count = int(value.split()[0])
                    calls += count
                    fixed += count * cost
            cob = cfn = None
            skip_next = True
            take_next = lookup and not callee_fixed  # an allocator it calls is replaced on its own
        elif spec in ("jump", "jcnd"):
            skip_next = True
    return AllocatorShare(calls=calls, executed=executed, fixed=fixed)
