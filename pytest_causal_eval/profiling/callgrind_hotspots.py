"""Hotspots of instruction mode, from the callgrind file of a measurement (pure), and their diff.

Per function: the instructions it executed itself (``self``) and with its callees (``inclusive``), per
call of the workload. What can be named:

- C functions by their symbol and the shared object they are in (``list_sort`` in ``libpython3.11``,
  ``unicode_compare_eq``, ``_Py_dict_lookup``, numpy's loops): on every Python;
- Python functions (``py::mymodule.score``) on CPython 3.12+ when the count ran through the perf
  trampoline and its perf map was read (``measure.callgrind.name_python_frames``). On 3.11 a Python
  function's work shows up as ``_PyEval_EvalFrameDefault`` (the bytecode loop) and the C functions it
  calls; which Python function it was cannot be told from the instructions.

Parsing a callgrind file under valgrind is slow (the parser's own instructions are simulated), so the
plugin runs ``python -m pytest_causal_eval.profiling.callgrind_hotspots`` as a child process, which
valgrind does not follow (``--trace-children=no``): it runs at native speed and prints JSON.

The Python frames come from a profile pass of their own (``instructions.plugin``), never from the
count the gate compares: the trampolines add instructions. Their bookkeeping (``TRAMPOLINE_FUNCTIONS``)
is left out of the hotspots; the call path the trampoline takes instead of the interpreter's inlined
calls (``_PyEval_Vector``, ``_PyFunction_Vectorcall``) stays, in the baseline's pass as in this one.

The diff orders functions by the change of their own instructions (self cost: the self costs of all
functions add up to the total, so these are the contributions to the change), Python frames by the
change with callees (their own cost is a trampoline's few instructions).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from pytest_causal_eval.measure.callgrind import CallgrindProfile, FunctionCost
from pytest_causal_eval.profiling.diff import paired
from pytest_causal_eval.profiling.hotspots import short_path

__all__ = [
    "PYTHON_OBJECT",
    "InstructionHotspot",
    "InstructionHotspotChange",
    "diff_instruction_hotspots",
    "format_count",
    "format_instruction_change",
    "instruction_hotspot_lines",
    "instruction_hotspots",
    "main",
]

PYTHON_OBJECT = "python"  # the object name name_python_frames gives a Python frame
DEFAULT_LIMIT = 40
MIN_SELF_SHARE = 0.002  # a function is kept when its own instructions are >= 0.2% of the total ...
MIN_INCLUSIVE_SHARE = 0.02  # ... or those with callees >= 2%
# The perf trampoline's own bookkeeping per Python call (3.12, 3.13): the profile pass's overhead,
# not the workload's.
TRAMPOLINE_FUNCTIONS = frozenset({"py_trampoline_evaluator", "PyUnstable_Code_GetExtra"})
ONE_SIDE_NAMED = (
    "note: {side} hotspots name Python functions and {other} do not (a baseline saved before "
    "Python frames were read, or on CPython 3.11): only C functions are compared; save the baseline "
    "again to compare Python functions"
)
PROFILE_PASS_NOTE = (
    "note: these figures come from a profile pass through CPython's perf trampoline (it names the Python "
    "functions and adds its own instructions); the count the gate compares ran without it"
)
NO_PYTHON_NAMES = (
    "Python functions are not named: CPython {version} has no perf trampoline (3.12+ has); their "
    "bytecode runs in _PyEval_EvalFrameDefault, the C functions they call are named"
)


@dataclass(frozen=True)
class InstructionHotspot:
    """One function's instructions per call of the workload: its own and with its callees."""

    function: str
    object: str  # the shared object without directory and version (``libpython3.11``), ``python``: a frame
    file: str  # a C function's source file name; a Python frame's file, short (``pkg/module.py``)
    self_instructions: float
    inclusive: float
    calls: float  # how often it ran per call of the workload

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity across runs: object (without version) and function; a C function's source file is
        left out (files move between builds), a Python frame's is kept (``py::main`` of two modules
        are two functions; the file is already short, relative to the project or its package)."""
        return (_object_stem(self.object), self.function, self.file if self.is_python else "")

    @property
    def is_python(self) -> bool:
        return self.object == PYTHON_OBJECT

    @property
    def contribution(self) -> float:
        """What the diff orders by: own instructions, with callees for a Python frame."""
        return self.inclusive if self.is_python else self.self_instructions

    @property
    def label(self) -> str:
        if self.is_python:
            return f"{self.function} ({self.file})" if self.file else self.function
        return f"{self.function} [{_object_stem(self.object)}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "object": self.object,
            "file": self.file,
            "self": round(self.self_instructions, 1),
            "inclusive": round(self.inclusive, 1),
            "calls": round(self.calls, 3),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstructionHotspot:
        return cls(
            function=str(data.get("function", "?")),
            object=str(data.get("object", "")),
            file=str(data.get("file", "")),
            self_instructions=float(data.get("self", 0.0) or 0.0),
            inclusive=float(data.get("inclusive", 0.0) or 0.0),
            calls=float(data.get("calls", 0.0) or 0.0),
        )


def _object_stem(path: str) -> str:
    """``/usr/lib/libpython3.11.so.1.0`` -> ``libpython3.11``; ``???`` and ``python`` as they are."""
    name = PurePath(path).name if path else "?"
    stem, sep, _ = name.partition(".so")
    return stem if sep else name


def _source_name(path: str) -> str:
    """A C function's source file without the build machine's directories: ``listobject.c``."""
    return "" if not path or path == "???" else PurePath(path).name


def instruction_hotspots(
    profile: CallgrindProfile,
    calls: int,
    limit: int = DEFAULT_LIMIT,
    event: str = "Ir",
    roots: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[InstructionHotspot]:
    """The functions of a measurement's callgrind profile that matter, per call of the workload.

    Entries callgrind splits by recursion depth (``f'2``) are merged: own instructions summed, those
    with callees taken from the outermost entry (it includes the deeper ones). Functions no counted
    code called (where instrumentation started, in the middle of the harness) are left out. Kept: a
    function whose own instructions are >= 0.2% of the total or whose inclusive ones are >= 2%, at most
    ``limit``, biggest contribution first. A Python frame's file is shortened against ``roots``
    (``short_path``); frames in files under ``exclude`` (the harness that repeats the workload) are
    left out.
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    total = profile.total(event)
    if total <= 0:
        return []
    excluded = tuple(exclude)
    merged: dict[tuple[str, str, str], list[float]] = {}
    for f in profile.functions:
        if f.calls == 0:
            continue  # a root: the harness frame that was running when counting began
        if f.base_name in TRAMPOLINE_FUNCTIONS:
            continue
        if f.key.object == PYTHON_OBJECT and excluded and f.key.file.startswith(excluded):
            continue
        key = (f.key.object, f.key.file if f.key.object == PYTHON_OBJECT else "", f.base_name)
        row = merged.setdefault(key, [0.0, 0.0, 0.0])
        row[0] += f.self_cost.get(event, 0)
        row[1] = max(row[1], float(_inclusive(f, event, total)))
        row[2] += f.calls
    files = {(f.key.object, f.base_name): f.key.file for f in profile.functions}
    spots = [
        InstructionHotspot(
            function=name,
            object=obj if obj == PYTHON_OBJECT else _object_stem(obj),
            file=short_path(file, roots)
            if obj == PYTHON_OBJECT
            else _source_name(files.get((obj, name), "")),
            self_instructions=own / calls,
            inclusive=incl / calls,
            calls=n / calls,
        )
        for (obj, file, name), (own, incl, n) in merged.items()
        if own >= MIN_SELF_SHARE * total or incl >= MIN_INCLUSIVE_SHARE * total
    ]
    spots.sort(key=lambda h: (-h.contribution, -h.inclusive, h.key))
    return spots[:limit]


def _inclusive(f: FunctionCost, event: str, total: int) -> int:
    # A function in a call cycle (f -> g -> f through the interpreter) can sum to more than everything
    # counted: the inner calls are in both its own cost and its calls' cost. Never more than the total.
    return min(total, f.inclusive.get(event, 0))


def has_python_frames(spots: Sequence[InstructionHotspot]) -> bool:
    return any(h.is_python for h in spots)


@dataclass(frozen=True)
class InstructionHotspotChange:
    """One function's instructions per call before (baseline) and after (this run); None: not listed."""

    label: str
    is_python: bool
    before_self: float | None
    after_self: float | None
    before_inclusive: float | None
    after_inclusive: float | None

    @property
    def self_delta(self) -> float:
        return (self.after_self or 0.0) - (self.before_self or 0.0)

    @property
    def inclusive_delta(self) -> float:
        return (self.after_inclusive or 0.0) - (self.before_inclusive or 0.0)

    @property
    def contribution(self) -> float:
        return self.inclusive_delta if self.is_python else self.self_delta


def diff_instruction_hotspots(
    current: Sequence[InstructionHotspot],
    baseline: Sequence[InstructionHotspot],
    limit: int = 8,
    min_instructions: float = 1.0,
) -> list[InstructionHotspotChange]:
    """Functions whose contribution (own instructions; with callees for Python frames) moved by at least
    ``min_instructions`` per call, the biggest absolute move first. Matched by object and name."""
    changes = []
    for ref, b, a in paired(current, baseline, lambda h: h.key):
        change = InstructionHotspotChange(
            label=ref.label,
            is_python=ref.is_python,
            before_self=b.self_instructions if b else None,
            after_self=a.self_instructions if a else None,
            before_inclusive=b.inclusive if b else None,
            after_inclusive=a.inclusive if a else None,
        )
        if abs(change.contribution) >= min_instructions:
            changes.append(change)
    changes.sort(key=lambda c: (-abs(c.contribution), -abs(c.inclusive_delta), c.label))
    return changes[:limit]


def format_count(value: float | None) -> str:
    """``1234567`` -> ``1.23M``; ``-`` for None (the function was not listed on that side)."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    v = abs(value)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale * 0.9995:
            return f"{sign}{v / scale:.3g}{unit}"
    return f"{sign}{v:.0f}"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + format_count(abs(value))


def format_instruction_change(change: InstructionHotspotChange) -> str:
    """``list_sort [libpython3.11]  self 120k -> 181k (+61k); with callees 900k -> 1.36M (+460k)``;
    a Python frame only with callees (its own instructions are its trampoline's)."""
    inclusive = (
        f"with callees {format_count(change.before_inclusive)} -> {format_count(change.after_inclusive)} "
        f"({_signed(change.inclusive_delta)})"
    )
    if change.is_python:
        return f"{change.label}  {inclusive}"
    return (
        f"{change.label}  self {format_count(change.before_self)} -> {format_count(change.after_self)} "
        f"({_signed(change.self_delta)}); {inclusive}"
    )


def instruction_hotspot_lines(
    current: Sequence[InstructionHotspot],
    baseline: Sequence[InstructionHotspot] | None,
    baseline_total: float | None = None,
    limit: int = 8,
    indent: str = "  ",
    python_version: str | None = None,
) -> list[str]:
    """The explanation of an instruction regression: the diff when the baseline has hotspots, else the
    top list; Python functions (with their callees) apart from C functions (their own instructions).
    Changes smaller than 0.5% of the baseline's count per call are not listed."""
    version = python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    if not current:
        return [f"{indent}(the callgrind profile of this measurement lists no function)"]
    named = has_python_frames(current) or bool(baseline and has_python_frames(baseline))
    notes = [PROFILE_PASS_NOTE] if named else [f"note: {NO_PYTHON_NAMES.format(version=version)}"]
    if baseline and has_python_frames(current) != has_python_frames(baseline):
        # Python frames on one side only: the other's Python work is inside its C functions
        side, other = (
            ("this run's", "the baseline's")
            if has_python_frames(current)
            else ("the baseline's", "this run's")
        )
        notes = [ONE_SIDE_NAMED.format(side=side, other=other)]
        current = [h for h in current if not h.is_python]
        baseline = [h for h in baseline if not h.is_python]
    lines: list[str] = []
    if baseline:
        floor = max(1.0, 0.005 * baseline_total) if baseline_total else 1.0
        changes = diff_instruction_hotspots(current, baseline, limit=2 * limit, min_instructions=floor)
        python = [c for c in changes if c.is_python][: limit // 2 or 1]
        native = [c for c in changes if not c.is_python][:limit]
        if python:
            lines.append(
                "Python functions whose instructions (with callees) changed against the baseline, per call:"
            )
            lines += [indent + format_instruction_change(c) for c in python]
        if native:
            lines.append(
                "functions whose own instructions changed against the baseline, per call (biggest first):"
            )
            lines += [indent + format_instruction_change(c) for c in native]
        if lines:
            return lines + notes
        head = "no function's own instructions moved by 0.5% of the count or more; top functions now:"
    else:
        head = "the baseline stores no instruction hotspots (save it in instruction mode); top functions now:"
    return [
        head,
        *(
            f"{indent}{h.label}  self {format_count(h.self_instructions)}, with callees "
            f"{format_count(h.inclusive)} per call"
            for h in current[:limit]
        ),
        *notes,
    ]


def hotspots_of_files(requests: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]] | str]:
    """Per request ``{"path", "calls", "perf_map"?, "roots"?, "exclude"?}``: the hotspots as dicts, or
    the error text."""
    from pytest_causal_eval.measure.callgrind import PerfMap, name_python_frames, read_callgrind

    out: list[list[dict[str, Any]] | str] = []
    for req in requests:
        try:
            profile = read_callgrind(str(req["path"]))
            perf_map = req.get("perf_map")
            if perf_map:
                with open(str(perf_map), encoding="utf-8", errors="replace") as fh:
                    profile = name_python_frames(profile, PerfMap.parse(fh.read()))
            spots = instruction_hotspots(
                profile,
                int(req["calls"]),
                roots=[str(r) for r in req.get("roots") or ()],
                exclude=[str(e) for e in req.get("exclude") or ()],
            )
            out.append([h.to_dict() for h in spots])
        except Exception as exc:  # one bad file must not lose the others
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_causal_eval.profiling.callgrind_hotspots``: JSON requests on stdin (a list of
    ``{"path", "calls", "perf_map"?}``), one JSON list of results on stdout."""
    del argv
    requests = json.load(sys.stdin)
    if not isinstance(requests, list):
        print("expected a JSON list of requests on stdin", file=sys.stderr)
        return 2
    json.dump(hotspots_of_files(requests), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
