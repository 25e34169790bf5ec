"""A time regression measured on a busy machine is inconclusive, not regressed (pure, no I/O).

Other processes that take a large share of the CPUs while a workload's timed rounds run slow it
down by an amount no statistic of its own rounds can separate from a real regression (time slices,
shared caches and memory bandwidth, a hyperthread sibling, a lower turbo clock). So when the
foreign share read during the timed rounds (``environment.load``) is at or above the limit
(``--causal-eval-max-foreign-load``), a time comparison that says ``regressed`` becomes
``inconclusive`` with the share in its reason: a warning, a failure with ``--causal-eval-strict``.
The measurement itself is kept as it is; only the verdict changes. Other verdicts (pass, improved)
and other metrics (memory, counts, accuracy) are not affected: load cannot make code look faster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.compare import Comparison

__all__ = ["busy_reason", "busy_summary_line", "foreign_share", "judge_under_load", "saved_under_load_note"]

TIME = "time"


def foreign_share(load: Any) -> float | None:
    """The foreign share recorded in ``measurement.extra['load']``, None when not read."""
    if not isinstance(load, Mapping):
        return None
    value = load.get("foreign_share")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        return None
    return float(value)


def busy_reason(load: Any, limit: float | None) -> str:
    """Why a time regression cannot be trusted ('' when it can)."""
    share = foreign_share(load)
    if limit is None or share is None or share < limit:
        return ""
    cpus = load.get("cpus") if isinstance(load, Mapping) else None
    on = f" of {cpus} CPUs" if isinstance(cpus, int) and cpus > 0 else " of the CPUs"
    return (
        f"other processes used {share:.0%}{on} during the timed rounds "
        f"(limit {limit:.0%}, --causal-eval-max-foreign-load)"
    )


def judge_under_load(comparisons: Sequence[Comparison], load: Any, limit: float | None) -> list[Comparison]:
    """``comparisons`` with a regressed time comparison made inconclusive when the machine was busy."""
    reason = busy_reason(load, limit)
    if not reason:
        return list(comparisons)
    return [
        replace(c, verdict="inconclusive", reason=reason)
        if c.metric == TIME and c.verdict == "regressed"
        else c
        for c in comparisons
    ]


def busy_summary_line(measurements: Sequence[Measurement], strict: bool) -> str:
    """The terminal summary's line about time regressions left undecided because the machine was
    busy ('' when there are none): how many, the foreign shares seen, and the first few names."""
    busy: list[tuple[str, float]] = []
    for m in measurements:
        record = VERDICT.get(m)
        if record is None or record.verdict != "inconclusive":
            continue
        if any(c.get("metric") == TIME and c.get("reason") for c in record.all or []):
            busy.append((m.id, foreign_share(m.extra.get("load")) or 0.0))
    if not busy:
        return ""
    shares = sorted(share for _, share in busy)
    seen = f"{shares[0]:.0%}" if shares[0] == shares[-1] else f"{shares[0]:.0%}-{shares[-1]:.0%}"
    names = ", ".join(mid for mid, _ in busy[:3]) + (f" and {len(busy) - 3} more" if len(busy) > 3 else "")
    outcome = "failed (--causal-eval-strict)" if strict else "not failed (--causal-eval-strict fails them)"
    return (
        f"causal-eval: WARNING {len(busy)} time regression(s) measured while other processes used {seen} of "
        f"the CPUs are inconclusive, {outcome}: {names}"
    )


def saved_under_load_note(saved: Sequence[Measurement], limit: float | None) -> str:
    """A note when measurements were saved while other processes used the limit's share of the CPUs
    or more ('' otherwise): a baseline saved on a busy machine is slow, and until more saves of the
    same code outvote it (``baseline.center``) it hides regressions of that size."""
    if limit is None:
        return ""
    busy = sorted(
        share for m in saved if (share := foreign_share(m.extra.get("load"))) is not None and share >= limit
    )
    if not busy:
        return ""
    seen = f"{busy[0]:.0%}" if busy[0] == busy[-1] else f"{busy[0]:.0%}-{busy[-1]:.0%}"
    return (
        f"{len(busy)} measurement(s) were saved while other processes used {seen} of the CPUs: their "
        "baseline may be slow; save again on a quiet machine (the center is the median of the saves of "
        "the same code)"
    )
