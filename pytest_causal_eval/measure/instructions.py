"""Counting the instructions of a workload's calls, inside a process that runs under callgrind.

The process is started by the launcher (``measure.valgrind_launch``) as ``valgrind --tool=callgrind
--instr-atstart=no --collect-atstart=yes --callgrind-out-file=DIR/callgrind.out.%p`` with ``DIR`` in
the environment. ``InstructionCounter.count`` then, for one measurement:

1. calls the workload once, uncounted (warm-up: first-call effects such as lazy imports, caches and
   the interpreter's specialisation stay out of the count);
2. runs a full garbage collection, so the collector's thresholds start from zero and its passes fall at
   the same points of every run; stretches the GIL switch interval by the slowdown (below);
3. switches instrumentation on (``START_INSTRUMENTATION``: for every thread, so threads the workload
   starts are counted; ``TOGGLE_COLLECT`` would switch only the calling thread's collection),
   zeroes the counters, makes the calls, dumps the counters to a numbered file named after the
   measurement (``DUMP_STATS_AT``), switches instrumentation off again;
4. reads the totals back from that file (callgrind writes it before the request returns), with the
   memory allocators' calls counted at a fixed cost each (``measure.allocator``: what they execute
   depends on the heap's history, not on the code); the profile of the hotspots is built from the
   same file after measuring.

A cheap workload (under ``SETTLE_INSTRUCTIONS`` per call) is counted a second time after more
uncounted calls (``settle_calls``), and the second count is the result. CPython's adaptive
interpreter rewrites a function's bytecode after its first few runs and retries failed
specialisations at growing intervals, so code that runs only a few times per call (an event loop's
turn, a framework's entry point) costs a different number of instructions on its 2nd run than on its
20th, and which run the count sees depends on what else ran that code before (the harness, other
tests). Measured on an asyncio workload of 97k instructions per call: 100k to 145k after one warm-up
call depending on that history, 97.0k to 98.9k after fifteen.

Child processes are not counted: callgrind follows only this process (``--trace-children=no``), and a
forked child's costs go to its own files, which are not read.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import gc
import itertools
import os
import re
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_causal_eval.measure.allocator import AllocatorShare, parse_allocator_cost, scan_allocator_share
from pytest_causal_eval.measure.callgrind import (
    CallgrindProfile,
    PerfMap,
    estimated_cycles,
    name_python_frames,
    read_callgrind,
    read_summary,
)
from pytest_causal_eval.measure.context_vars import pinned_context_vars
from pytest_causal_eval.measure.valgrind import (
    CALLGRIND_DUMP_STATS_AT,
    CALLGRIND_START_INSTRUMENTATION,
    CALLGRIND_STOP_INSTRUMENTATION,
    CALLGRIND_ZERO_STATS,
    ClientRequests,
    callgrind,
)

__all__ = [
    "ENV_OUT_DIR",
    "OUT_FILE_PREFIX",
    "PERF_MAP_SUFFIX",
    "CountTimeoutError",
    "InstructionCount",
    "InstructionCounter",
    "NotUnderCallgrindError",
    "alarm_after",
    "gc_state",
    "read_count",
    "settle_calls",
]

ENV_OUT_DIR = "CAUSAL_EVAL_CALLGRIND_DIR"  # where callgrind writes; set by the launcher
OUT_FILE_PREFIX = "callgrind.out"  # --callgrind-out-file=DIR/callgrind.out.%p

_UNSAFE_LABEL = re.compile(r"[\x00-\x1f]")

# A workload that executes fewer instructions than this per call is counted again after more warm-up
# calls: up to MAX_SETTLE_CALLS, as many as fit in this budget of (uncounted, uninstrumented, so
# cheap) instructions. Above it, code that runs a few times per call is too small a share of the
# count to move it by 0.1%, and a second count would cost a second instrumented run.
SETTLE_INSTRUCTIONS = 50_000_000
MAX_SETTLE_CALLS = 15


def settle_calls(per_call: float, calls: int = 1) -> int:
    """How many more uncounted calls to make before counting a second time (0: keep the first)."""
    cost = max(per_call, 1.0) * calls
    if cost >= SETTLE_INSTRUCTIONS:
        return 0
    return max(1, min(MAX_SETTLE_CALLS, int(SETTLE_INSTRUCTIONS // cost)))


class NotUnderCallgrindError(RuntimeError):
    """Counting was asked for in a process that valgrind's callgrind is not running."""


class CountTimeoutError(TimeoutError):
    """The counted calls did not finish within the time limit."""


@dataclass(frozen=True)
class InstructionCount:
    """The counts of one measurement: ``calls`` calls of the workload.

    ``totals`` is what callgrind counted between zeroing and dumping; ``overhead`` the part of it
    that counting costs by itself (the client-request calls and the ``for`` loop around the calls,
    measured on a callable that does nothing), zero when not subtracted. ``net`` is the difference,
    event by event, never below zero; the per-call figures are based on it. ``profile`` (per
    function costs) is read from ``path`` on first use, not while measuring.
    """

    label: str
    calls: int
    totals: Mapping[str, int]
    path: Path
    overhead: Mapping[str, int] = field(default_factory=dict)
    perf_map: PerfMap | None = None
    perf_map_path: Path | None = None  # the perf map kept beside ``path`` (``python_frames``)
    warmup_calls: int = 0  # uncounted calls made by the counter before the counted ones
    # The allocators' share of ``totals``; when set, its ``Ir`` counts their calls at a fixed cost.
    allocator: AllocatorShare | None = None

    @functools.cached_property
    def profile(self) -> CallgrindProfile:
        profile = read_callgrind(self.path)
        return profile if self.perf_map is None else name_python_frames(profile, self.perf_map)

    @property
    def net(self) -> dict[str, int]:
        return {e: max(0, v - self.overhead.get(e, 0)) for e, v in self.totals.items()}

    @property
    def instructions(self) -> int:
        """Instructions of all the calls, counting overhead subtracted."""
        return self.net.get("Ir", 0)

    @property
    def per_call(self) -> float:
        """Instructions executed per call."""
        return self.instructions / self.calls

    def event_per_call(self, event: str) -> float | None:
        value = self.net.get(event)
        return None if value is None else value / self.calls

    @property
    def estimated_cycles_per_call(self) -> float | None:
        """iai-callgrind's cycle estimate per call; None without ``--cache-sim=yes``."""
        cycles = estimated_cycles(self.net)
        return None if cycles is None else cycles / self.calls


def gc_state() -> dict[str, object]:
    """The garbage collector's state, to record beside counts (its passes are counted work)."""
    return {
        "enabled": gc.isenabled(),
        "thresholds": list(gc.get_threshold()),
        "frozen": gc.get_freeze_count(),
    }


@contextmanager
def alarm_after(seconds: float | None, label: str) -> Iterator[None]:
    """Raise ``CountTimeoutError`` in the main thread after ``seconds`` (SIGALRM; main thread only).

    The alarm is a real-time timer, so it bounds a workload slowed down by valgrind without adding
    instructions to the count unless it fires. Workloads stuck in C code that never returns to the
    interpreter are bounded only by the launcher's overall time limit.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise CountTimeoutError(
            f"{label}: the counted calls did not finish within {seconds:g} s under valgrind "
            "(counted code runs 50-100x slower than native)"
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Dumped:
    """Where the counters of one counted block were dumped (set when the block is left)."""

    path: Path = Path()


class InstructionCounter:
    """Counts instructions of workload calls; one per process (dump files are numbered per process)."""

    def __init__(
        self, out_dir: Path, requests: ClientRequests | None = None, *, allocator_cost: str = "fixed"
    ) -> None:
        """``allocator_cost``: ``fixed`` counts each call of a memory allocator at a fixed cost
        (``measure.allocator``), ``executed`` what it executed."""
        self.allocator_cost = parse_allocator_cost(allocator_cost)
        self.requests = requests or callgrind()
        if not self.requests.running_on_valgrind():
            raise NotUnderCallgrindError(
                "instruction counting needs the process to run under valgrind --tool=callgrind; "
                "the plugin starts it that way in --causal-eval-mode=instructions"
            )
        self.out_dir = out_dir
        self.pid = os.getpid()
        self._dumps = itertools.count(1)
        self._labels = itertools.count(1)
        self._start = self.requests.prepared(0, CALLGRIND_START_INSTRUMENTATION)
        self._stop = self.requests.prepared(0, CALLGRIND_STOP_INSTRUMENTATION)
        self._zero = self.requests.prepared(0, CALLGRIND_ZERO_STATS)
        self._overhead: tuple[dict[str, int], dict[str, int]] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> InstructionCounter:
        env = os.environ if environ is None else environ
        out_dir = env.get(ENV_OUT_DIR)
        if not out_dir:
            raise NotUnderCallgrindError(
                f"instruction counting: {ENV_OUT_DIR} is not set; the process was not started by "
                "the plugin's callgrind launcher"
            )
        return cls(Path(out_dir))

    def dump_path(self, number: int) -> Path:
        return self.out_dir / f"{OUT_FILE_PREFIX}.{self.pid}.{number}"

    def count(
        self,
        fn: Callable[[], Any],
        calls: int = 1,
        *,
        label: str = "",
        warmup: int = 1,
        collect_garbage: bool = True,
        time_limit: float | None = None,
        subtract_overhead: bool = True,
        python_frames: bool = False,
        prepare: Callable[[], Callable[[], Any]] | None = None,
        settle: bool = True,
    ) -> InstructionCount:
        """Count ``calls`` calls of ``fn`` after ``warmup`` uncounted ones.

        ``settle``: a cheap workload is counted again after more uncounted calls (``settle_calls``,
        module docstring); ``warmup_calls`` of the result says how many uncounted calls came first.

        ``prepare`` (pedantic mode's setup): called uncounted before every call, warm-up included;
        the callable it returns is the call made (``fn`` is then not called). Needs ``calls == 1``.

        ``python_frames``: on CPython 3.12+, run the calls through the perf trampoline so the
        profile names Python functions (``py::qualname``). The trampolines add instructions (about
        5% on a call-heavy loop), so use it for a profile, not for the count a gate compares.
        The entries of the perf map that name this count's frames are kept beside the dump file
        (``perf_map_path``: ``DUMP.perf.map``), where they last as long as the dump: CPython's own
        map is removed at exit and gains new trampolines with every activation.
        On 3.11 the profile has C functions only and the flag does nothing.
        """
        if calls < 1:
            raise ValueError(f"calls must be at least 1, got {calls}")
        if prepare is not None and calls != 1:
            raise ValueError(f"a prepare function needs calls == 1, got {calls}")
        overhead = self.overhead(calls) if subtract_overhead else {}
        fixed = self._fixed_allocator(python_frames)
        with _perf_trampoline(python_frames) as perf_map:
            counted = self._count(fn, calls, label, warmup, collect_garbage, time_limit, prepare, fixed)
            extra = settle_calls(replace(counted, overhead=overhead).per_call, calls) if settle else 0
            if extra:  # cheap: count again once the interpreter has settled (module docstring)
                first = counted.path
                counted = self._count(fn, calls, label, extra, collect_garbage, time_limit, prepare, fixed)
                first.unlink(missing_ok=True)
        counted = replace(counted, warmup_calls=warmup + (calls + extra if extra else 0))
        if perf_map is not None:
            counted = _with_perf_map(counted, *perf_map)
        return replace(counted, overhead=overhead)

    def overhead(self, calls: int) -> dict[str, int]:
        """What counting ``calls`` calls costs by itself, per event: fixed part + ``calls`` x loop part.

        Measured once per process on a callable that does nothing, with one and with two calls.
        """
        if self._overhead is None:
            fixed_cost = self._fixed_allocator(False)
            one = self._count(
                _nothing, 1, "counting overhead (1 call)", 1, True, None, fixed_allocator=fixed_cost
            )
            two = self._count(
                _nothing, 2, "counting overhead (2 calls)", 1, True, None, fixed_allocator=fixed_cost
            )
            per_call = {e: max(0, two.totals[e] - one.totals[e]) for e in one.totals}
            fixed = {e: max(0, one.totals[e] - per_call[e]) for e in one.totals}
            self._overhead = (fixed, per_call)
        fixed, per_call = self._overhead
        return {e: fixed[e] + calls * per_call[e] for e in fixed}

    def _fixed_allocator(self, python_frames: bool) -> bool:
        """Count the allocators at their fixed cost: not in a profile pass, whose count is not gated."""
        return self.allocator_cost == "fixed" and not python_frames

    def _count(
        self,
        fn: Callable[[], Any],
        calls: int,
        label: str,
        warmup: int,
        collect_garbage: bool,
        time_limit: float | None,
        prepare: Callable[[], Callable[[], Any]] | None = None,
        fixed_allocator: bool = False,
    ) -> InstructionCount:
        if calls < 1:
            raise ValueError(f"calls must be at least 1, got {calls}")
        loop = range(calls)
        with alarm_after(time_limit, label or "instruction count"):  # warm-up included: slow too
            for _ in range(warmup):
                (prepare() if prepare is not None else fn)()
            call = prepare() if prepare is not None else fn
            with self._counting(label, collect_garbage) as dumped:
                for _ in loop:
                    call()
        return read_count(label, calls, dumped.path, fixed_allocator)

    async def count_async(
        self,
        coro_fn: Callable[[], Awaitable[Any]],
        calls: int = 1,
        *,
        label: str = "",
        warmup: int = 1,
        time_limit: float | None = None,
        subtract_overhead: bool = True,
        settle: bool = True,
        python_frames: bool = False,
    ) -> InstructionCount:
        """``count`` for a coroutine function awaited in the running event loop.

        Whatever else the loop runs while the calls are awaited is counted too (instrumentation is
        on for the whole process); the counting overhead subtracted is the synchronous one.
        ``python_frames`` as in ``count``: for a profile, not for the count a gate compares.
        """
        if calls < 1:
            raise ValueError(f"calls must be at least 1, got {calls}")
        overhead = self.overhead(calls) if subtract_overhead else {}
        fixed = self._fixed_allocator(python_frames)
        with _perf_trampoline(python_frames) as perf_map:
            counted = await self._count_async(coro_fn, calls, label, warmup, time_limit, fixed)
            extra = settle_calls(replace(counted, overhead=overhead).per_call, calls) if settle else 0
            if extra:  # cheap: count again once the interpreter has settled (module docstring)
                first = counted.path
                counted = await self._count_async(coro_fn, calls, label, extra, time_limit, fixed)
                first.unlink(missing_ok=True)
        if perf_map is not None:
            counted = _with_perf_map(counted, *perf_map)
        return replace(counted, overhead=overhead, warmup_calls=warmup + (calls + extra if extra else 0))

    async def _count_async(
        self,
        coro_fn: Callable[[], Awaitable[Any]],
        calls: int,
        label: str,
        warmup: int,
        time_limit: float | None,
        fixed_allocator: bool = False,
    ) -> InstructionCount:
        with alarm_after(time_limit, label or "instruction count"):
            for _ in range(warmup):
                await coro_fn()
            with self._counting(label, True) as dumped:
                for _ in range(calls):
                    await coro_fn()
        return read_count(label, calls, dumped.path, fixed_allocator)

    @contextmanager
    def _counting(self, label: str, collect_garbage: bool) -> Iterator[_Dumped]:
        """Count what runs inside the block: a full collection and fresh pools first (module
        docstring), instrumentation on and the counters zeroed, then on leaving without an error
        the counters dumped to a file named after ``label`` (its path is set on the yielded
        object), and instrumentation off again whatever happened."""
        name, dump_name, dump = self._dump_request(label)
        start, stop, zero = self._start, self._stop, self._zero
        dumped = _Dumped()
        if collect_garbage:
            gc.collect()
        with pinned_context_vars():  # before the pools are filled: setting them allocates
            filler = fill_small_object_pools()
            with _stretched_switch_interval():
                start()
                try:
                    zero()
                    yield dumped
                    dump()
                finally:
                    stop()
        del dump_name, filler
        dumped.path = self._find_dump(name)

    def _dump_request(self, label: str) -> tuple[str, ctypes.Array[ctypes.c_char], Callable[[], int]]:
        """The dump's unique name, its C string (keep it alive until the dump) and the request."""
        if os.getpid() != self.pid:
            raise RuntimeError("an InstructionCounter cannot be used in a forked child process")
        name = f"causal-eval #{next(self._labels)} {_UNSAFE_LABEL.sub(' ', label)}".strip()
        dump_name = ctypes.create_string_buffer(name.encode("utf-8"))
        dump = self.requests.prepared(0, CALLGRIND_DUMP_STATS_AT, ctypes.addressof(dump_name))
        return name, dump_name, dump

    def _find_dump(self, name: str) -> Path:
        """The file our DUMP_STATS_AT wrote: normally the next number; else found by its name."""
        expected = self.dump_path(next(self._dumps))
        if expected.exists() and _trigger_of(expected) == name:
            return expected
        # Someone else dumped too (torch's collect_callgrind, a library's own client request).
        for path in sorted(self.out_dir.glob(f"{OUT_FILE_PREFIX}.{self.pid}.*")):
            if not path.name.endswith(PERF_MAP_SUFFIX) and _trigger_of(path) == name:
                number = path.name.rsplit(".", 1)[-1]
                if number.isdigit():
                    self._dumps = itertools.count(int(number) + 1)
                return path
        raise RuntimeError(
            f"callgrind wrote no dump named {name!r} in {self.out_dir}: is the process running under "
            "valgrind --tool=callgrind with --callgrind-out-file pointing there?"
        )


def read_count(label: str, calls: int, path: Path, fixed_allocator: bool) -> InstructionCount:
    """The count a dump holds: its totals, with the allocators at their fixed cost when asked (which
    reads the whole file once, for their functions alone; otherwise only its head and tail)."""
    totals = dict(read_summary(path).totals)
    if not fixed_allocator:
        return InstructionCount(label=label, calls=calls, totals=totals, path=path)
    with open(path, encoding="utf-8", errors="replace") as lines:
        share = scan_allocator_share(lines)
    totals["Ir"] = share.counted(totals.get("Ir", 0))
    return InstructionCount(label=label, calls=calls, totals=totals, path=path, allocator=share)


_POOL_CLASS = re.compile(r"^\s*\d+\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$")
_UNUSED_POOLS = re.compile(r"^(\d+) unused pools \* (\d+) bytes")
LARGEST_SMALL_BLOCK = 512  # pymalloc's largest size class
FILL_PASSES = 3
POOL_HEADER = 48  # struct pool_header, 16-byte aligned on 64-bit builds: 31 blocks of 512 in a 16 KiB pool


def fill_small_object_pools() -> list[object]:
    """Take every free block of CPython's small-object allocator (pymalloc); return the objects.

    Allocating and freeing a small object costs a different number of instructions depending on the
    state of its pool (a pool that fills up or empties is relinked, an arena that gains a free pool
    is re-sorted), and that state depends on everything the process did before: the same loop
    counted 1% apart in two pytest runs of different history. With the free blocks of the used pools
    and the unused pools of the existing arenas taken (kept alive by the caller during the count),
    the counted calls allocate from fresh pools of a fresh arena, the same way in every run. Taken
    exactly: one block too many per unused pool (32 blocks of 512 bytes where a 16 KiB pool holds
    31 after its header) spilled into a new arena and left the workload the pools after the spill,
    which fall before or after a 1 MiB boundary of the arena map depending on where the arena was
    mapped; every free there costs one comparison more or less (1% of an integer loop). The free
    blocks are read from ``sys._debugmallocstats()`` (CPython; nothing is done elsewhere or
    under ``PYTHONMALLOC=malloc``).
    """
    keep: list[object] = []
    header = sys.getsizeof(b"")
    for _ in range(FILL_PASSES):  # the next pass takes the blocks the previous one's temporaries freed
        for size, count in fill_plan(_debugmallocstats()):
            keep.extend(_objects_of_size(size, count, header))
    return keep


def fill_plan(stats: str) -> list[tuple[int, int]]:
    """(block size, blocks to allocate) that take every free block ``sys._debugmallocstats()``
    reports: the free blocks of each size class's used pools, then the unused pools as the 512-byte
    blocks they hold after their header."""
    plan: list[tuple[int, int]] = []
    for line in stats.splitlines():
        match = _POOL_CLASS.match(line)
        if match is not None:
            plan.append((int(match.group(1)), int(match.group(2))))
            continue
        match = _UNUSED_POOLS.match(line)
        if match is not None:
            pools, pool_size = int(match.group(1)), int(match.group(2))
            plan.append((LARGEST_SMALL_BLOCK, pools * ((pool_size - POOL_HEADER) // LARGEST_SMALL_BLOCK)))
    return plan


def _objects_of_size(size: int, count: int, header: int) -> list[object]:
    """``count`` new objects whose allocation asks pymalloc for ``size`` bytes."""
    if count <= 0:
        return []
    if size - header >= 2:  # bytes of one length 0 and 1 are shared, not allocated
        return [bytes(size - header) for _ in range(count)]
    if size == sys.getsizeof(object()):
        return [object() for _ in range(count)]
    if size == sys.getsizeof(1.5):
        return [float(i) + 0.5 for i in range(count)]
    if size == sys.getsizeof(2**30):
        return [2**30 + i for i in range(count)]
    return []


def _debugmallocstats() -> str:
    """What ``sys._debugmallocstats()`` writes to the C-level standard error, or ""."""
    dump = getattr(sys, "_debugmallocstats", None)
    if dump is None:
        return ""
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            dump()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode("utf-8", errors="replace")


# The interpreter asks a thread holding the GIL to hand it over after a switch interval of *wall*
# time (5 ms by default). Counted code runs about 100x slower, so the same interval would force a
# switch after ~50 us of native work, and where it falls depends on the machine's timing. Stretched
# by the slowdown, switches come about as often per instruction as they do natively.
SWITCH_INTERVAL_STRETCH = 100.0


@contextmanager
def _stretched_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(previous * SWITCH_INTERVAL_STRETCH)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


_perf_maps_to_remove: set[Path] = set()


def _remove_perf_maps() -> None:
    for path in _perf_maps_to_remove:
        with contextlib.suppress(OSError):
            path.unlink()


@contextmanager
def _perf_trampoline(wanted: bool) -> Iterator[tuple[Path, int] | None]:
    """Activate CPython's perf trampoline (3.12+) for a count; yield the perf map it writes to and
    where this activation's entries start in it.

    Every activation makes new trampolines for every function it runs, appended to the same map
    (at new addresses), so the entries before the offset name no frame of this count."""
    activate = getattr(sys, "activate_stack_trampoline", None)
    if not wanted or activate is None:
        yield None
        return
    perf_map = Path(f"/tmp/perf-{os.getpid()}.map")  # CPython's fixed location
    if getattr(sys, "is_stack_trampoline_active")():  # noqa: B009 - the user's -X perf: leave it as it is
        yield perf_map, 0  # one activation since start-up: every entry may name a frame
        return
    if not _perf_maps_to_remove:
        atexit.register(_remove_perf_maps)
    _perf_maps_to_remove.add(perf_map)  # ours, not the user's: removed at exit
    start = perf_map.stat().st_size if perf_map.exists() else 0
    activate("perf")
    try:
        yield perf_map, start
    finally:
        getattr(sys, "deactivate_stack_trampoline")()  # noqa: B009 - 3.12+, mypy targets 3.10


PERF_MAP_SUFFIX = ".perf.map"


def _with_perf_map(counted: InstructionCount, source: Path, start: int) -> InstructionCount:
    """The count with the perf map entries from ``start`` on, kept beside its dump file."""
    from pytest_causal_eval.atomicio import write_text_atomic  # 3.12+ only: 3.11's imports stay as they were

    try:
        with open(source, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:  # the trampoline could not write its map: frames stay unnamed
        return counted
    kept = counted.path.with_name(counted.path.name + PERF_MAP_SUFFIX)
    write_text_atomic(kept, text)
    return replace(counted, perf_map=PerfMap.parse(text), perf_map_path=kept)


def _nothing() -> None:
    return None


def _trigger_of(path: Path) -> str | None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("desc: Trigger: Client Request: "):
                return line[len("desc: Trigger: Client Request: ") :].rstrip("\n")
            if line.startswith(("fn=", "ob=", "fl=", "totals:")):
                return None
    return None
