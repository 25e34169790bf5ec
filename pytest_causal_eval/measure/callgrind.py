"""A reader of callgrind output files (format version 1): totals, events and per-function costs.

Pure and deterministic: text in, a ``CallgrindProfile`` out, functions in a stable order. What is read:

- the header (``creator``, ``pid``, ``cmd``, ``part``, ``desc: Trigger``, ``positions``, ``events``);
- the totals (``totals:``, else ``summary:``, else the sum of all self costs);
- per function, keyed by (object, file, name): its self cost (cost lines of the function), its
  inclusive cost (self plus the cost lines that follow its ``calls=`` lines, calls of a function to
  itself left out so a recursion is not counted twice) and how often it was called.

Name compression ``fn=(12) name`` / ``fn=(12)`` is resolved per id space (objects: ob/cob; files:
fl/fi/fe/cfi/cfl/jfi; functions: fn/cfn/jfn). Positions (``line`` or ``instr line``, absolute, ``+n``, ``-n``
or ``*``) are skipped, not kept: the per-function view is what the plugin needs.

Functions callgrind separates by recursion depth (``f'2``) stay separate entries; ``base_name``
strips the suffix for display.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "CACHE_SIM_EVENTS",
    "CallgrindFormatError",
    "CallgrindProfile",
    "DumpSummary",
    "FunctionCost",
    "FunctionKey",
    "PerfMap",
    "estimated_cycles",
    "name_python_frames",
    "parse_callgrind",
    "read_callgrind",
    "read_summary",
]

CACHE_SIM_EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
# The weights of iai-callgrind (after Itamar Turner-Trauring): an L1 hit costs 1, an LL hit 5, RAM 35.
L1_HIT_CYCLES, LL_HIT_CYCLES, RAM_CYCLES = 1, 5, 35

_UNNAMED = re.compile(r"^0x([0-9a-fA-F]+)((?:'\d+)?)$")
_COMPRESSED = re.compile(r"^\((\d+)\)(?:\s(.*))?$")
_RECURSION_SUFFIX = re.compile(r"'\d+$")
_SPACE_OF = {
    "ob": "ob",
    "cob": "ob",
    "fl": "fl",
    "fi": "fl",
    "fe": "fl",
    "cfi": "fl",
    "cfl": "fl",
    "jfi": "fl",
    "fn": "fn",
    "cfn": "fn",
    "jfn": "fn",
}


class CallgrindFormatError(ValueError):
    """The text is not a callgrind profile we can read; the message names the line."""


@dataclass(frozen=True, order=True)
class FunctionKey:
    object: str
    file: str
    name: str


@dataclass(frozen=True)
class FunctionCost:
    key: FunctionKey
    self_cost: Mapping[str, int]
    inclusive: Mapping[str, int]
    calls: int  # how often it was called from functions seen in this profile

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def base_name(self) -> str:
        """The name without callgrind's recursion-depth suffix (``f'2`` -> ``f``)."""
        return _RECURSION_SUFFIX.sub("", self.key.name)


@dataclass(frozen=True)
class CallgrindProfile:
    events: tuple[str, ...]
    totals: Mapping[str, int]
    functions: tuple[FunctionCost, ...]  # by inclusive cost of the first event, descending, then key
    header: Mapping[str, str] = field(default_factory=dict)
    trigger: str = ""  # "Client Request: <name>", "Program termination", ...
    positions: tuple[str, ...] = ("line",)

    def total(self, event: str = "Ir") -> int:
        return self.totals.get(event, 0)

    def function(self, name: str) -> list[FunctionCost]:
        """Every function of that name (or base name), in profile order."""
        return [f for f in self.functions if name in (f.name, f.base_name)]

    @property
    def dump_name(self) -> str | None:
        """The name given to ``CALLGRIND_DUMP_STATS_AT``, when this file came from one."""
        prefix = "Client Request: "
        return self.trigger[len(prefix) :] if self.trigger.startswith(prefix) else None


def estimated_cycles(totals: Mapping[str, int]) -> int | None:
    """iai-callgrind's estimate: L1 hits + 5 * LL hits + 35 * RAM hits, None without cache events.

    With L1 misses ``L1m = I1mr + D1mr + D1mw`` and LL misses ``LLm = ILmr + DLmr + DLmw``:
    RAM hits = LLm, LL hits = L1m - LLm, L1 hits = Ir + Dr + Dw - L1m; so the estimate equals
    ``Ir + Dr + Dw + 4 * L1m + 30 * LLm``.
    """
    if any(e not in totals for e in CACHE_SIM_EVENTS):
        return None
    accesses = totals["Ir"] + totals["Dr"] + totals["Dw"]
    l1_misses = totals["I1mr"] + totals["D1mr"] + totals["D1mw"]
    ram_hits = totals["ILmr"] + totals["DLmr"] + totals["DLmw"]
    ll_hits = l1_misses - ram_hits
    l1_hits = accesses - l1_misses
    return L1_HIT_CYCLES * l1_hits + LL_HIT_CYCLES * ll_hits + RAM_CYCLES * ram_hits


class _Costs:
    """Self and call costs per function while reading."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.self_cost: dict[FunctionKey, list[int]] = {}
        self.call_cost: dict[FunctionKey, list[int]] = {}
        self.calls: dict[FunctionKey, int] = {}
        self.order: list[FunctionKey] = []

    def touch(self, key: FunctionKey) -> None:
        if key not in self.self_cost:
            self.self_cost[key] = [0] * self.width
            self.call_cost[key] = [0] * self.width
            self.calls[key] = 0
            self.order.append(key)

    def add(self, target: dict[FunctionKey, list[int]], key: FunctionKey, values: list[int]) -> None:
        self.touch(key)
        row = target[key]
        for i, v in enumerate(values):
            row[i] += v


def _split_header(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(":")
    if not sep or not key or " " in key or "=" in key:
        return None
    return key, value.strip()


class _Reader:
    def __init__(self) -> None:
        self.header: dict[str, str] = {}
        self.descs: list[str] = []
        self.events: tuple[str, ...] = ()
        self.positions: tuple[str, ...] = ("line",)
        self.summary: list[int] | None = None
        self.totals: list[int] | None = None
        self.names: dict[str, dict[str, str]] = {"ob": {}, "fl": {}, "fn": {}}
        self.costs: _Costs | None = None
        self.ob = self.fl = ""
        self.fn: FunctionKey | None = None
        self.cob: str | None = None
        self.cfl: str | None = None
        self.cfn: str | None = None
        self.pending_call: FunctionKey | None = None
        self.pending_calls = 0
        self.skip_position_line = False

    # -- helpers -------------------------------------------------------------------------------------
    def fail(self, lineno: int, message: str) -> CallgrindFormatError:
        return CallgrindFormatError(f"callgrind output line {lineno}: {message}")

    def name(self, spec: str, value: str, lineno: int) -> str:
        space = self.names[_SPACE_OF[spec]]
        m = _COMPRESSED.match(value)
        if m is None:
            return value
        ident, text = m.group(1), m.group(2)
        if text is not None:
            space[ident] = text
            return text
        if ident not in space:
            raise self.fail(lineno, f"{spec}=({ident}) refers to an id never defined")
        return space[ident]

    def numbers(self, tokens: list[str], lineno: int) -> list[int]:
        try:
            return [int(t) for t in tokens]
        except ValueError:
            raise self.fail(lineno, f"expected event counts, got {' '.join(tokens)!r}") from None

    def cost_values(self, line: str, lineno: int) -> list[int]:
        tokens = line.split()
        npos = len(self.positions)
        if len(tokens) < npos:
            raise self.fail(lineno, f"a cost line needs {npos} position(s), got {line!r}")
        for t in tokens[:npos]:
            if not (t == "*" or t[0] in "+-" or t[0].isdigit()):
                raise self.fail(lineno, f"bad position {t!r} in {line!r}")
        values = self.numbers(tokens[npos:], lineno)
        if len(values) > len(self.events):
            raise self.fail(lineno, f"{len(values)} counts for {len(self.events)} events in {line!r}")
        return values + [0] * (len(self.events) - len(values))

    def start_body(self, lineno: int) -> _Costs:
        if self.costs is None:
            if not self.events:
                raise self.fail(lineno, "cost data before the 'events:' header line")
            self.costs = _Costs(len(self.events))
        return self.costs

    # -- lines ---------------------------------------------------------------------------------------
    def feed(self, raw: str, lineno: int) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        if self.skip_position_line:  # the source position after jump=/jcnd=, no costs
            self.skip_position_line = False
            return
        if self.pending_call is not None:
            self.call_line(line, lineno)
            return
        spec, eq, value = line.partition("=")
        if eq and spec in _SPACE_OF:
            self.position_spec(spec, value.strip(), lineno)
        elif eq and spec == "calls":
            self.calls_spec(value, lineno)
        elif eq and spec in ("jump", "jcnd"):
            self.skip_position_line = True
        elif line[0] in "+-*0123456789":
            self.cost_line(line, lineno)
        else:
            self.header_line(line, lineno)

    def header_line(self, line: str, lineno: int) -> None:
        parts = _split_header(line)
        if parts is None:
            raise self.fail(lineno, f"unrecognised line {line!r}")
        key, value = parts
        if key == "events":
            if self.costs is not None:
                raise self.fail(lineno, "'events:' after cost data")
            self.events = tuple(value.split())
            if not self.events:
                raise self.fail(lineno, "'events:' names no event")
        elif key == "positions":
            self.positions = tuple(value.split()) or ("line",)
        elif key == "summary":
            self.summary = self.numbers(value.split(), lineno)
        elif key == "totals":
            self.totals = self.numbers(value.split(), lineno)
        elif key == "desc":
            self.descs.append(value)
        else:
            self.header.setdefault(key, value)

    def position_spec(self, spec: str, value: str, lineno: int) -> None:
        text = self.name(spec, value, lineno)
        if spec == "ob":
            self.ob = text
        elif spec == "fl":
            self.fl = text
        elif spec == "fn":
            self.fn = FunctionKey(self.ob, self.fl, text)
            self.start_body(lineno).touch(self.fn)
            self.cob = self.cfl = self.cfn = None
        elif spec == "cob":
            self.cob = text
        elif spec in ("cfi", "cfl"):
            self.cfl = text
        elif spec == "cfn":
            self.cfn = text
        # fi= / fe=: inlined code from another file, still cost of the current function.
        # jfi= / jfn=: the target of the next jump= / jcnd= (--collect-jumps); no cost of their own.

    def calls_spec(self, value: str, lineno: int) -> None:
        if self.fn is None:
            raise self.fail(lineno, "calls= outside a function")
        if self.cfn is None:
            raise self.fail(lineno, "calls= without a preceding cfn=")
        tokens = value.split()
        if not tokens:
            raise self.fail(lineno, "calls= without a count")
        self.pending_calls = self.numbers(tokens[:1], lineno)[0]
        self.pending_call = FunctionKey(
            self.cob if self.cob is not None else self.ob,
            self.cfl if self.cfl is not None else self.fl,
            self.cfn,
        )

    def call_line(self, line: str, lineno: int) -> None:
        assert self.pending_call is not None and self.fn is not None
        values = self.cost_values(line, lineno)
        costs = self.start_body(lineno)
        callee = self.pending_call
        costs.touch(callee)
        costs.calls[callee] += self.pending_calls
        if callee != self.fn:
            costs.add(costs.call_cost, self.fn, values)
        self.pending_call = None
        self.cob = self.cfl = self.cfn = None

    def cost_line(self, line: str, lineno: int) -> None:
        costs = self.start_body(lineno)
        if self.fn is None:
            raise self.fail(lineno, "a cost line before any fn=")
        costs.add(costs.self_cost, self.fn, self.cost_values(line, lineno))

    # -- result --------------------------------------------------------------------------------------
    def finish(self) -> CallgrindProfile:
        if self.pending_call is not None:
            raise CallgrindFormatError("callgrind output ends after a calls= line without its cost line")
        if not self.events:
            raise CallgrindFormatError("callgrind output without an 'events:' line (not a callgrind file?)")
        costs = self.costs or _Costs(len(self.events))
        functions = []
        for key in costs.order:
            own = costs.self_cost[key]
            inclusive = [a + b for a, b in zip(own, costs.call_cost[key], strict=True)]
            functions.append(
                FunctionCost(
                    key=key,
                    self_cost=dict(zip(self.events, own, strict=True)),
                    inclusive=dict(zip(self.events, inclusive, strict=True)),
                    calls=costs.calls[key],
                )
            )
        first = self.events[0]
        functions.sort(key=lambda f: (-f.inclusive[first], -f.self_cost[first], f.key))
        totals_row = self.totals if self.totals is not None else self.summary
        if totals_row is None:
            totals_row = [sum(col) for col in zip(*costs.self_cost.values(), strict=True)] or [0] * len(
                self.events
            )
        if len(totals_row) > len(self.events):
            raise CallgrindFormatError(
                f"callgrind totals have {len(totals_row)} counts for {len(self.events)} events"
            )
        totals_row = list(totals_row) + [0] * (len(self.events) - len(totals_row))
        trigger = next((d[len("Trigger:") :].strip() for d in self.descs if d.startswith("Trigger:")), "")
        return CallgrindProfile(
            events=self.events,
            totals=dict(zip(self.events, totals_row, strict=True)),
            functions=tuple(functions),
            header=dict(self.header),
            trigger=trigger,
            positions=self.positions,
        )


def parse_callgrind(text: str | Iterable[str]) -> CallgrindProfile:
    """Read one callgrind output file's text (or its lines)."""
    reader = _Reader()
    lines = text.splitlines() if isinstance(text, str) else text
    for lineno, line in enumerate(lines, start=1):
        reader.feed(line, lineno)
    return reader.finish()


def read_callgrind(path: Path | str) -> CallgrindProfile:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse_callgrind(fh)


@dataclass(frozen=True)
class PerfMap:
    """A perf map (``/tmp/perf-PID.map``): ``START SIZE NAME`` lines, addresses in hex.

    CPython 3.12+ writes one when its perf trampoline is active (``-X perf`` or
    ``sys.activate_stack_trampoline("perf")``): one small trampoline per Python function, named
    ``py::qualname:filename``. Callgrind sees the trampolines as functions of no object named by
    their address (``0x...``); the map names them.
    """

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PerfMap:
        rows: list[tuple[int, int, str]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(" ", 2)
            try:
                start, size, name = int(parts[0], 16), int(parts[1], 16), parts[2]
            except (IndexError, ValueError):
                raise CallgrindFormatError(
                    f"perf map line {lineno}: expected 'START SIZE NAME', got {line!r}"
                ) from None
            rows.append((start, start + size, name))
        rows.sort()
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    def name_of(self, address: int) -> str | None:
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0 and address < self.ends[i]:
            return self.names[i]
        return None


def name_python_frames(profile: CallgrindProfile, perf_map: PerfMap) -> CallgrindProfile:
    """The profile with unnamed functions that are Python trampolines renamed after the perf map.

    A renamed function's key becomes (``"python"``, its file, ``py::qualname``) so it reads like a
    frame; callgrind's recursion suffix (``'2``) is kept.
    """
    renamed = []
    for f in profile.functions:
        m = _UNNAMED.match(f.key.name)
        name = perf_map.name_of(int(m.group(1), 16)) if m is not None else None
        if name is None or m is None:
            renamed.append(f)
            continue
        qualname, filename = name, ""
        if name.startswith("py::"):  # CPython: py::qualname:filename (a qualname has no colon)
            qualname, _, filename = name[len("py::") :].partition(":")
            qualname = "py::" + qualname
        key = FunctionKey("python", filename, qualname + m.group(2))
        renamed.append(replace(f, key=key))
    first = profile.events[0]
    renamed.sort(key=lambda f: (-f.inclusive[first], -f.self_cost[first], f.key))
    return replace(profile, functions=tuple(renamed))


@dataclass(frozen=True)
class DumpSummary:
    """The header and totals of a callgrind file, read without reading its body."""

    events: tuple[str, ...]
    totals: Mapping[str, int]
    trigger: str


HEAD_BYTES = 8192
TAIL_BYTES = 1024


def read_summary(path: Path | str) -> DumpSummary:
    """Events, totals and trigger from the first and last few KiB of the file.

    Cheap and allocation-light (for reading a count back inside the measured process, where every
    allocation moves the heap the next measurement starts from); falls back to a full read when
    the file has no ``totals:`` line at its end.
    """
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES).decode("utf-8", errors="replace")
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read().decode("utf-8", errors="replace")
    events: tuple[str, ...] = ()
    trigger = ""
    for line in head.splitlines():
        if line.startswith("events:"):
            events = tuple(line[len("events:") :].split())
        elif line.startswith("desc: Trigger:"):
            trigger = line[len("desc: Trigger:") :].strip()
        elif line.startswith(("fn=", "ob=", "fl=")):
            break
    last = tail.rstrip("\n").rsplit("\n", 1)[-1]
    if not events or not last.startswith("totals:"):
        profile = read_callgrind(path)
        return DumpSummary(profile.events, dict(profile.totals), profile.trigger)
    values = [int(v) for v in last[len("totals:") :].split()]
    if len(values) > len(events):
        raise CallgrindFormatError(f"{path}: totals have {len(values)} counts for {len(events)} events")
    values += [0] * (len(events) - len(values))
    return DumpSummary(events, dict(zip(events, values, strict=True)), trigger)
