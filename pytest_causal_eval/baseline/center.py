"""The baseline's center from several saving sessions of the same code (pure, no I/O).

A baseline saved once is one process's luck: two sessions on unchanged code land a few percent
apart on a laptop or a shared runner, and every later verdict is judged against wherever that one
save landed. So when the entry's ``time.sessions`` hold two or more sessions that measured the same
code as the last save (the one whose rounds are stored; same ``code`` digest, never an empty one),
the time comparison is centered on the **median of their p10s** (the statistic the time gate
compares; the median of their medians in files whose sessions recorded no p10, and the comparison
is then made at the median): the stored rounds are scaled so that their p10 is that center, which
keeps their spread (the within-run uncertainty) and moves only where they sit. The verdict message
then says ``median of N saving sessions``.

Sessions of other code are never used: a real speed-up between two saves is not noise. The
sessions are ignored when the last one does not describe the stored rounds (its median more than
1% from theirs: an entry edited or imported by hand).

A session saved while other processes took the limit's share of the CPUs or more
(``--causal-eval-max-foreign-load``; each session records its ``foreign_share``) is slow because of
its neighbours, and a median of two is their mean: one such save would still pull the center. So
such saves are **left out** of the center (not down-weighted: their bias has one sign and no known
size) while at least one save of the same code was made under less load, and the note says how
many were left out. When every save was made under load, the center is their median and the note
says it may be slow; so does a single save under load (the stored rounds as they are). Sessions
that recorded no share (older files) count as quiet.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pytest_causal_eval import numbers
from pytest_causal_eval.baseline.schema import saved_under_load, session_p10, session_share
from pytest_causal_eval.stats.compare import Side

__all__ = ["SessionCenter", "centered_side", "session_center"]

MIN_SESSIONS = 2
AGREEMENT = 0.01  # the last session's median and the stored rounds' median, relative


@dataclass(frozen=True)
class SessionCenter:
    """Where the baseline's time sits: ``value`` is the median of ``sessions`` saving sessions of one
    code (None: the stored rounds as they are), ``note`` what the verdict says about it."""

    value: float | None
    sessions: int
    note: str


def _median(value: Any) -> float | None:
    median = value.get("median") if isinstance(value, Mapping) else None
    if median is None or numbers.check(median, "time") is not None:
        return None
    return float(median)


Statistic = Literal["median", "p10"]


def _value(session: Any, statistic: Statistic) -> float | None:
    return _median(session) if statistic == "median" else session_p10(session)


def _shares(sessions: list[Mapping[str, Any]]) -> str:
    shares = sorted(share for s in sessions if (share := session_share(s)) is not None)
    low, high = f"{shares[0]:.0%}", f"{shares[-1]:.0%}"
    return low if low == high else f"{low}-{high}"


def session_center(
    sessions: Any, stored: float, limit: float | None = None, statistic: Statistic = "median"
) -> SessionCenter | None:
    """The center of the stored time (see the module docstring), or None: the stored rounds as they
    are, with nothing to say (fewer than two sessions of the last one's code, none saved under load
    at or above ``limit``, or sessions that do not match the stored rounds). ``statistic``: which of
    each session's values to center on, ``stored`` the stored rounds' own (the time gate centers its
    p10 on the sessions' p10s; files saved before sessions recorded one have medians only)."""
    if not isinstance(sessions, list) or not sessions:
        return None
    last = sessions[-1]
    last_value = _value(last, statistic)
    if not isinstance(last, Mapping) or last_value is None or stored <= 0:
        return None
    if abs(last_value / stored - 1.0) > AGREEMENT:
        return None
    code = last.get("code")
    same = [
        s
        for s in sessions
        if code and isinstance(s, Mapping) and s.get("code") == code and _value(s, statistic)
    ]
    if len(same) < MIN_SESSIONS:
        if saved_under_load(last, limit):
            note = f"measured while other processes used {_shares([last])} of the CPUs: it may be slow"
            return SessionCenter(None, 1, note)
        return None
    loaded = [s for s in same if saved_under_load(s, limit)]
    quiet = [s for s in same if not saved_under_load(s, limit)]
    if not loaded:
        return SessionCenter(_median_of(same, statistic), len(same), f"median of {len(same)} saving sessions")
    if not quiet:
        note = (
            f"median of {len(same)} saving sessions, all saved while other processes used "
            f"{_shares(loaded)} of the CPUs: it may be slow"
        )
        return SessionCenter(_median_of(same, statistic), len(same), note)
    left_out = f"{len(loaded)} saved while other processes used {_shares(loaded)} of the CPUs left out"
    if len(quiet) == 1:
        return SessionCenter(
            _median_of(quiet, statistic), 1, f"the one quiet save of {len(same)}; {left_out}"
        )
    return SessionCenter(
        _median_of(quiet, statistic),
        len(quiet),
        f"median of {len(quiet)} of {len(same)} saving sessions; {left_out}",
    )


def _median_of(sessions: list[Mapping[str, Any]], statistic: Statistic) -> float:
    return float(statistics.median(m for s in sessions if (m := _value(s, statistic)) is not None))


def centered_side(side: Side, center: float, current: float | None = None) -> Side:
    """``side`` moved so that its ``current`` value (default: its center, the median) is ``center``,
    its spread scaled alike."""
    factor = center / (current if current is not None else side.center)
    if side.samples:
        return Side.of_samples([v * factor for v in side.samples])
    if side.iqr is not None:
        return Side.of_summary(center, side.iqr * factor, side.n)
    return Side.of_value(center)
