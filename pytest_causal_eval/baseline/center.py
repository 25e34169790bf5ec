"""The baseline's center from several saving sessions of the same code (pure, no I/O).

A baseline saved once is one process's luck: two sessions on unchanged code land a few percent
apart on a laptop or a shared runner, and every later verdict is judged against wherever that one
save landed. So when the entry's ``time.sessions`` hold two or more sessions that measured the same
code as the last save (the one whose rounds are stored; same ``code`` digest, never an empty one),
the time comparison is centered on the **median of their medians**: the stored rounds are scaled
so that their median is that center, which keeps their spread (the within-run uncertainty) and
moves only where they sit. The verdict message then says ``median of N saving sessions``.

Sessions of other code are never used: a real speed-up between two saves is not noise. The
sessions are ignored when the last one does not describe the stored rounds (its median more than
1% from theirs: an entry edited or imported by hand).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from pytest_causal_eval import numbers
from pytest_causal_eval.stats.compare import Side

__all__ = ["SessionCenter", "centered_side", "session_center"]

MIN_SESSIONS = 2
AGREEMENT = 0.01  # the last session's median and the stored rounds' median, relative


class SessionCenter:
    """A center from ``sessions`` saving sessions of one code."""

    def __init__(self, value: float, sessions: int) -> None:
        self.value = value
        self.sessions = sessions

    @property
    def note(self) -> str:
        return f"median of {self.sessions} saving sessions"


def _median(value: Any) -> float | None:
    median = value.get("median") if isinstance(value, Mapping) else None
    if median is None or numbers.check(median, "time") is not None:
        return None
    return float(median)


def session_center(sessions: Any, stored_median: float) -> SessionCenter | None:
    """The median of the medians of the sessions that measured the last session's code, or None
    (fewer than two such sessions, no code digest, or sessions that do not match the stored rounds)."""
    if not isinstance(sessions, list) or not sessions:
        return None
    last = sessions[-1]
    code = last.get("code") if isinstance(last, Mapping) else None
    last_median = _median(last)
    if not code or last_median is None or stored_median <= 0:
        return None
    if abs(last_median / stored_median - 1.0) > AGREEMENT:
        return None
    same_code = [_median(s) for s in sessions if isinstance(s, Mapping) and s.get("code") == code]
    medians = [m for m in same_code if m is not None]
    if len(medians) < MIN_SESSIONS:
        return None
    return SessionCenter(float(statistics.median(medians)), len(medians))


def centered_side(side: Side, center: float) -> Side:
    """``side`` moved so that its center is ``center``, its spread scaled alike."""
    factor = center / side.center
    if side.samples:
        return Side.of_samples([v * factor for v in side.samples])
    if side.iqr is not None:
        return Side.of_summary(center, side.iqr * factor, side.n)
    return Side.of_value(center)
