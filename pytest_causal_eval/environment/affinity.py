"""CPU affinity: parse CPU lists, pin every thread of this process, put the old masks back."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "affinity_supported",
    "available_cpus",
    "capture_affinity",
    "format_cpu_list",
    "parse_cpu_list",
    "restore_affinity",
    "set_affinity",
]

_TASKS = Path("/proc/self/task")


def affinity_supported() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def available_cpus() -> tuple[int, ...]:
    """CPUs this process may run on."""
    if affinity_supported():
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


def parse_cpu_list(spec: Any) -> tuple[int, ...]:
    """'0-3,6' or [0, 1, 2] -> sorted CPU numbers; ValueError saying what is accepted."""
    accepted = "a CPU list such as '0-1,3' or [0, 1]"
    cpus: set[int] = set()
    if isinstance(spec, str):
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            low, dash, high = part.partition("-")
            try:
                if dash:
                    first, last = int(low), int(high)
                    if first > last:
                        raise ValueError
                    cpus.update(range(first, last + 1))
                else:
                    cpus.add(int(low))
            except ValueError:
                raise ValueError(f"expected {accepted}, got {spec!r}") from None
    elif isinstance(spec, Iterable) and not isinstance(spec, (bytes, dict)):
        for value in spec:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected {accepted}, got {spec!r}")
            cpus.add(value)
    else:
        raise ValueError(f"expected {accepted}, got {spec!r}")
    if not cpus or min(cpus) < 0:
        raise ValueError(f"expected {accepted} with at least one CPU >= 0, got {spec!r}")
    return tuple(sorted(cpus))


def format_cpu_list(cpus: Sequence[int]) -> str:
    """(0, 1, 2, 5) -> '0-2,5'."""
    parts: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _thread_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_TASKS)]
    except OSError:
        return [0]


def capture_affinity() -> dict[int, frozenset[int]]:
    """The mask of every thread of this process (key 0: the calling thread, used for new threads)."""
    if not affinity_supported():
        return {}
    masks: dict[int, frozenset[int]] = {0: frozenset(os.sched_getaffinity(0))}
    for tid in _thread_ids():
        try:
            masks[tid] = frozenset(os.sched_getaffinity(tid))
        except OSError:
            continue
    return masks


def set_affinity(cpus: Iterable[int]) -> None:
    """Pin every thread of this process (threads started later inherit the caller's mask)."""
    mask = set(cpus)
    for tid in _thread_ids():
        try:
            os.sched_setaffinity(tid, mask)
        except (ProcessLookupError, PermissionError):
            continue
    os.sched_setaffinity(0, mask)


def restore_affinity(masks: dict[int, frozenset[int]]) -> None:
    """Give each thread its captured mask; threads born meanwhile get the caller's old mask."""
    if not masks:
        return
    default = masks[0]
    for tid in _thread_ids():
        try:
            os.sched_setaffinity(tid, masks.get(tid, default))
        except (ProcessLookupError, PermissionError):
            continue
    os.sched_setaffinity(0, default)
