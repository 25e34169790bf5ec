"""Splitting a suite into N shards (pure: no I/O).

Without recorded durations a test goes to the shard its stable hash picks (CRC-32 of the node id,
so every runner, Python version and process agrees without talking to the others). With the
durations of a previous run, the tests are balanced by greedy longest-processing-time: longest
first, each to the currently lightest shard (ties: the lower shard number, then node id order),
which stays within 4/3 of the best possible makespan. A test the previous run did not measure gets
the median recorded duration. Every shard must see the same collected items for the assignment to
partition them, which is the case when every runner runs the same command on the same revision.
"""

from __future__ import annotations

import re
import statistics
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_causal_eval.results import RunResults

__all__ = ["Shard", "assign_balanced", "assign_hashed", "durations_by_test", "parse_shard"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """'2/4' -> Shard(2, 4); K must be in 1..N."""
    m = _SHARD.match(str(text))
    if not m:
        raise ValueError(f"expected K/N such as 1/4 (shard K of N, K from 1 to N), got {text!r}")
    index, total = int(m.group(1)), int(m.group(2))
    if total < 1:
        raise ValueError(f"the number of shards N must be at least 1, got {text!r}")
    if not 1 <= index <= total:
        raise ValueError(f"the shard number K must be from 1 to {total}, got {text!r}")
    return Shard(index, total)


def hashed_shard(test_id: str, total: int) -> int:
    """The 1-based shard of one test by the stable hash of its id."""
    return zlib.crc32(test_id.encode("utf-8")) % total + 1


def assign_hashed(test_ids: Iterable[str], total: int) -> dict[str, int]:
    return {tid: hashed_shard(tid, total) for tid in test_ids}


def assign_balanced(test_ids: Sequence[str], durations: Mapping[str, float], total: int) -> dict[str, int]:
    """Greedy longest-processing-time assignment; unknown tests get the median known duration."""
    known = [float(durations[t]) for t in test_ids if t in durations]
    if not known:
        known = [float(v) for v in durations.values()]
    fallback = statistics.median(known) if known else 1.0
    weight = {t: float(durations.get(t, fallback)) for t in test_ids}
    loads = [0.0] * total
    out: dict[str, int] = {}
    for tid in sorted(dict.fromkeys(test_ids), key=lambda t: (-weight[t], t)):
        lightest = min(range(total), key=lambda i: (loads[i], i))
        loads[lightest] += weight[tid]
        out[tid] = lightest + 1
    return out


def durations_by_test(results: RunResults) -> dict[str, float]:
    """Seconds spent measuring each test (the sum over its named measurements)."""
    out: dict[str, float] = {}
    for m in results.measurements:
        out[m.test_id] = out.get(m.test_id, 0.0) + max(0.0, float(m.duration))
    return out
