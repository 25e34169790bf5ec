"""Merging the results files of several shards (or runs) into one (pure: no I/O).

Refused: files measured on different machine keys (``environment.fingerprint.results_machine``: the key the
plugin recorded, the one it compares and saves under; the message names both keys and the hard keys
that differ), and the same
measurement id in two files (two shards that overlapped, or the same shard uploaded twice) unless
duplicates are allowed, in which case their rounds are pooled and the worst verdict is kept.

The load rule's limit the sessions recorded (``extra.baseline.max_foreign_load``) is kept, so that
``causal-eval compare`` judges the merged file by it and not by the default; when the files disagree,
the strictest (lowest; ``off`` is the most lenient) is kept and a note says so.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.ab.pooling import pool_measurements
from pytest_causal_eval.environment.fingerprint import (
    Fingerprint,
    describe_differences,
    hard_differences,
    results_machine,
)
from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.measure.load import limit_text, recorded_limit
from pytest_causal_eval.report.verdicts import ORDER
from pytest_causal_eval.results import Measurement, RunResults, Verdict

__all__ = ["MergeError", "Merged", "machine_key", "merge_results", "shard_of"]


class MergeError(ValueError):
    """Results that must not be merged; the message names the files and what differs."""


@dataclass
class Merged:
    results: RunResults
    notes: list[str] = field(default_factory=list)


def fingerprint(results: RunResults) -> Fingerprint:
    return results_machine(results)[1]


def machine_key(results: RunResults) -> str:
    return results_machine(results)[0]


def shard_of(results: RunResults) -> tuple[int, int] | None:
    shard = results.extra.get("shard")
    if isinstance(shard, Mapping):
        try:
            return int(shard["index"]), int(shard["total"])
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
    return None


def _worst_verdict(runs: Sequence[Measurement]) -> Verdict | None:
    rank = {v: i for i, v in enumerate(ORDER)}
    records: list[Verdict] = []
    for m in runs:
        record = VERDICT.get(m)
        if record is not None:
            records.append(record)
    if not records:
        return None
    return min(records, key=lambda r: rank.get(r.verdict, len(ORDER)))


def _shard_notes(inputs: Sequence[tuple[str, RunResults]]) -> list[str]:
    shards = [(name, s) for name, r in inputs if (s := shard_of(r)) is not None]
    if not shards:
        return []
    notes: list[str] = []
    totals = sorted({total for _, (_, total) in shards})
    if len(totals) > 1:
        notes.append(f"the files were split into different numbers of shards ({', '.join(map(str, totals))})")
    total = totals[-1]
    seen: dict[int, str] = {}
    for name, (index, _) in shards:
        if index in seen:
            notes.append(f"shard {index}/{total} appears twice ({seen[index]} and {name})")
        seen.setdefault(index, name)
    missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in seen]
    if missing:
        notes.append(f"missing shard(s): {', '.join(missing)} (their tests are not in the merged results)")
    return notes


def _strictest_load_limit(inputs: Sequence[tuple[str, RunResults]]) -> tuple[bool, str, list[str]]:
    """(found, the strictest recorded limit as the results record it, notes). Files that recorded
    none (older files) do not take part; a value that is not a limit is a ``MergeError``."""
    recorded: list[tuple[str, float | None]] = []
    for name, results in inputs:
        try:
            found, limit = recorded_limit(results.extra)
        except ValueError as exc:
            raise MergeError(f"{name}: {exc}") from None
        if found:
            recorded.append((name, limit))
    if not recorded:
        return False, "", []
    limits = [limit for _, limit in recorded if limit is not None]
    strictest = min(limits) if limits else None
    kept = limit_text(strictest)
    if len({limit for _, limit in recorded}) == 1:
        return True, kept, []
    shown = ", ".join(f"{name}: {limit_text(limit)}" for name, limit in recorded)
    note = (
        f"the files recorded different foreign-load limits ({shown}); "
        f"the merged results keep the strictest, {kept}"
    )
    return True, kept, [note]


def merge_results(inputs: Sequence[tuple[str, RunResults]], allow_duplicates: bool = False) -> Merged:
    """One results document from ``(name, results)`` pairs, in the given order."""
    if not inputs:
        raise MergeError("nothing to merge")
    first_name, first = inputs[0]
    first_key, first_fp = results_machine(first)
    for name, results in inputs[1:]:
        key, fp = results_machine(results)
        if key != first_key:
            diffs = hard_differences(first_fp, fp)
            detail = f" ({describe_differences(diffs)})" if diffs else ""
            raise MergeError(
                f"machine keys differ: {first_name} was measured on {first_key}, {name} on {key}"
                f"{detail}; merge only results from the same kind of machine"
            )
    by_id: dict[str, list[tuple[str, Measurement]]] = {}
    for name, results in inputs:
        for m in results.measurements:
            by_id.setdefault(m.id, []).append((name, m))
    duplicates = {mid: [n for n, _ in found] for mid, found in by_id.items() if len(found) > 1}
    notes = _shard_notes(inputs)
    has_limit, load_limit, load_notes = _strictest_load_limit(inputs)
    notes.extend(load_notes)
    if duplicates and not allow_duplicates:
        shown = "; ".join(f"{mid} (in {', '.join(names)})" for mid, names in sorted(duplicates.items())[:3])
        more = f" and {len(duplicates) - 3} more" if len(duplicates) > 3 else ""
        raise MergeError(
            f"{len(duplicates)} measurement id(s) appear in more than one file: {shown}{more}; "
            "pass --allow-duplicates to pool their rounds"
        )
    merged: list[Measurement] = []
    for mid in sorted(by_id):
        runs = [m for _, m in by_id[mid]]
        if len(runs) == 1:
            merged.append(runs[0])
            continue
        pooled = pool_measurements(runs)
        worst = _worst_verdict(runs)
        if worst is not None:
            VERDICT.put(pooled, worst)
        merged.append(pooled)
    if duplicates:
        notes.append(f"{len(duplicates)} measurement id(s) were in several files: their rounds were pooled")
    sources = [
        {
            "file": name,
            "measurements": len(r.measurements),
            "shard": f"{s[0]}/{s[1]}" if (s := shard_of(r)) is not None else None,
        }
        for name, r in inputs
    ]
    extra: dict[str, Any] = {"merged": {"sources": sources, "notes": list(notes)}}
    if "machine" in first.extra:
        extra["machine"] = first.extra["machine"]
    if has_limit:
        extra["baseline"] = {"max_foreign_load": load_limit}
    results = RunResults(
        measurements=merged,
        environment=dict(first.environment),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        tool_version=first.tool_version,
        extra=extra,
    )
    return Merged(results=results, notes=notes)
