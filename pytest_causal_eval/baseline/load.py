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

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pytest_causal_eval.extra_keys import VERDICT
from pytest_causal_eval.measure.load import foreign_share, share_phrase
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.compare import Comparison

__all__ = [
    "GATE_FLAG",
    "busy_reason",
    "busy_summary_line",
    "foreign_share",
    "judge_under_load",
    "saved_under_load_note",
    "share_range",
]

TIME = "time"
GATE_FLAG = (
    "--causal-eval-max-foreign-load"  # the CLI's ``compare`` and ``ab`` name theirs --max-foreign-load
)
ROUNDS = "the timed rounds"


def share_range(shares: Sequence[float]) -> str:
    """'48%' or '30%-62%': the foreign shares seen."""
    ordered = sorted(shares)
    low, high = f"{ordered[0]:.0%}", f"{ordered[-1]:.0%}"
    return low if low == high else f"{low}-{high}"


def busy_reason(load: Any, limit: float | None, flag: str = GATE_FLAG, rounds: str = ROUNDS) -> str:
    """Why a time regression cannot be trusted ('' when it can); ``flag`` names the option that sets
    the limit, ``rounds`` the rounds the load was read over (unless the reading had to be widened:
    ``measure.load.window_text``)."""
    share = foreign_share(load)
    if limit is None or share is None or share < limit:
        return ""
    return f"{share_phrase(load, rounds)} (limit {limit:.0%}, {flag})"


def judge_under_load(
    comparisons: Sequence[Comparison],
    load: Any,
    limit: float | None,
    flag: str = GATE_FLAG,
    rounds: str = ROUNDS,
) -> list[Comparison]:
    """``comparisons`` with a regressed time comparison made inconclusive when the machine was busy
    (the gate, ``causal-eval compare`` and ``causal-eval ab`` apply the same rule)."""
    reason = busy_reason(load, limit, flag, rounds)
    if not reason:
        return list(comparisons)
    return [
        replace(c, verdict="inconclusive", reason=reason)
        if c.metric == TIME and c.verdict == "regressed"
        else c
        for c in comparisons
    ]


def busy_summary_line(
    measurements: Sequence[Measurement], strict: bool, strict_flag: str = "--causal-eval-strict"
) -> str:
    """The terminal summary's line about time regressions left undecided because the machine was
    busy ('' when there are none): how many, the foreign shares seen, and the first few names
    (``strict_flag``: the option that fails them, the CLI's ``--strict``)."""
    busy: list[tuple[str, float]] = []
    for m in measurements:
        record = VERDICT.get(m)
        if record is None or record.verdict != "inconclusive":
            continue
        if any(c.get("metric") == TIME and c.get("reason") for c in record.all or []):
            busy.append((m.id, foreign_share(m.extra.get("load")) or 0.0))
    if not busy:
        return ""
    seen = share_range([share for _, share in busy])
    names = ", ".join(mid for mid, _ in busy[:3]) + (f" and {len(busy) - 3} more" if len(busy) > 3 else "")
    outcome = f"failed ({strict_flag})" if strict else f"not failed ({strict_flag} fails them)"
    return (
        f"causal-eval: WARNING {len(busy)} time regression(s) measured while other processes used {seen} of "
        f"the CPUs are inconclusive, {outcome}: {names}"
    )


def saved_under_load_note(saved: Sequence[Measurement], limit: float | None) -> str:
    """A note when measurements were saved while other processes used the limit's share of the CPUs
    or more ('' otherwise): a baseline saved on a busy machine is slow and hides regressions of that
    size until a quieter save of the same code replaces it as the center (``baseline.center``)."""
    if limit is None:
        return ""
    busy = [
        share for m in saved if (share := foreign_share(m.extra.get("load"))) is not None and share >= limit
    ]
    if not busy:
        return ""
    return (
        f"{len(busy)} measurement(s) were saved while other processes used {share_range(busy)} of the CPUs: "
        "their baseline may be slow; save again on a quiet machine (the share is stored with the save, "
        "and the gate's center leaves such saves out while a quieter save of the same code exists)"
    )
