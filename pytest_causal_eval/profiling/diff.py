"""Diffs of hotspots and allocation sites against a baseline, and their text (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pytest_causal_eval.profiling.hotspots import Hotspot
from pytest_causal_eval.profiling.sites import AllocationSite
from pytest_causal_eval.report.units import format_bytes, format_seconds

__all__ = [
    "HotspotChange",
    "SiteChange",
    "diff_hotspots",
    "diff_sites",
    "format_hotspot_change",
    "format_share",
    "format_site_change",
    "hotspot_lines",
    "paired",
    "site_lines",
]


@dataclass(frozen=True)
class HotspotChange:
    """One function's self and total share before (baseline) and after (this run); None when not listed."""

    function: str
    file: str
    line: int
    before_self: float | None
    after_self: float | None
    before_total: float | None
    after_total: float | None
    before_time: float = 0.0  # the baseline's median time per call (0: unknown)
    after_time: float = 0.0  # this run's

    @property
    def timed(self) -> bool:
        return self.before_time > 0 and self.after_time > 0

    @property
    def seconds(self) -> float:
        """Change of the function's own time per call: its contribution to the regression."""
        return (self.after_self or 0.0) * self.after_time - (self.before_self or 0.0) * self.before_time

    @property
    def points(self) -> float:
        """Change of the self share in percentage points."""
        return ((self.after_self or 0.0) - (self.before_self or 0.0)) * 100.0

    @property
    def total_points(self) -> float:
        return ((self.after_total or 0.0) - (self.before_total or 0.0)) * 100.0


@dataclass(frozen=True)
class SiteChange:
    """One allocation site's bytes and allocation count before and after; None when not listed."""

    function: str
    file: str
    line: int
    before: int | None
    after: int | None
    before_count: int | None
    after_count: int | None

    @property
    def delta(self) -> int:
        return (self.after or 0) - (self.before or 0)


K = TypeVar("K")
T = TypeVar("T")


def paired(
    current: Sequence[T], baseline: Sequence[T], key: Callable[[T], K]
) -> Iterator[tuple[T, T | None, T | None]]:
    """(reference, before, after) per key present on either side: current order first, then the
    baseline's keys that disappeared. The reference is the current entry when there is one."""
    before = {key(x): x for x in baseline}
    after = {key(x): x for x in current}
    for k in list(after) + [k for k in before if k not in after]:
        b, a = before.get(k), after.get(k)
        ref = a if a is not None else b
        assert ref is not None
        yield ref, b, a


def diff_hotspots(
    current: Sequence[Hotspot],
    baseline: Sequence[Hotspot],
    limit: int = 8,
    min_points: float = 1.0,
    times: tuple[float, float] = (0.0, 0.0),
) -> list[HotspotChange]:
    """Functions whose self (or total) share moved by at least ``min_points`` percentage points.

    With ``times`` (the baseline's and this run's median time per call) the biggest contribution to
    the change in absolute time comes first (a function whose share stayed put while everything got
    slower counts too: it moved by 1% of the baseline's time or more); without, the biggest share move.
    Functions are matched by file and function name, not line."""
    before_time, after_time = times
    changes = []
    for ref, b, a in paired(current, baseline, lambda h: h.key):
        change = HotspotChange(
            function=ref.function,
            file=ref.file,
            line=ref.line,
            before_self=b.self_share if b else None,
            after_self=a.self_share if a else None,
            before_total=b.total_share if b else None,
            after_total=a.total_share if a else None,
            before_time=before_time,
            after_time=after_time,
        )
        moved = abs(change.points) >= min_points or abs(change.total_points) >= min_points
        if moved or (change.timed and abs(change.seconds) >= before_time * min_points / 100.0):
            changes.append(change)
    if before_time > 0 and after_time > 0:
        changes.sort(key=lambda c: (-abs(c.seconds), c.file, c.function))
    else:
        changes.sort(key=lambda c: (-abs(c.points), -abs(c.total_points), c.file, c.function))
    return changes[:limit]


def diff_sites(
    current: Sequence[AllocationSite], baseline: Sequence[AllocationSite], limit: int = 8, min_bytes: int = 1
) -> list[SiteChange]:
    """Allocation sites whose bytes changed by at least ``min_bytes``, biggest change first."""
    changes = []
    for ref, b, a in paired(current, baseline, lambda s: s.key):
        change = SiteChange(
            function=ref.function,
            file=ref.file,
            line=ref.line,
            before=b.size if b else None,
            after=a.size if a else None,
            before_count=b.count if b else None,
            after_count=a.count if a else None,
        )
        if abs(change.delta) >= min_bytes:
            changes.append(change)
    changes.sort(key=lambda c: (-abs(c.delta), c.file, c.function))
    return changes[:limit]


def format_share(share: float | None) -> str:
    if share is None:
        return "-"
    pct = share * 100.0
    return f"{pct:.0f}%" if pct >= 9.95 or pct == 0 else f"{pct:.1f}%"


def format_hotspot_change(change: HotspotChange) -> str:
    """``evaluator.py:142 score_batch  +9.20 ms self time; 18% -> 41% (+23 pts self; total 30% -> 52%)``."""
    sign = "+" if change.seconds >= 0 else "-"
    own = f"{sign}{format_seconds(abs(change.seconds))} self time; " if change.timed else ""
    return (
        f"{change.file}:{change.line} {change.function}  {own}"
        f"{format_share(change.before_self)} -> {format_share(change.after_self)} "
        f"({change.points:+.0f} pts self; total {format_share(change.before_total)} -> "
        f"{format_share(change.after_total)})"
    )


def _bytes(value: int | None) -> str:
    return "-" if value is None else format_bytes(value)


def format_site_change(change: SiteChange) -> str:
    """``engine/cache.py:88 put  1.20 MiB -> 9.80 MiB (+8.60 MiB; 120 -> 960 allocations)``."""
    sign = "+" if change.delta >= 0 else "-"
    counts = ""
    if change.before_count is not None or change.after_count is not None:
        b = "-" if change.before_count is None else str(change.before_count)
        a = "-" if change.after_count is None else str(change.after_count)
        counts = f"; {b} -> {a} allocations"
    return (
        f"{change.file}:{change.line} {change.function}  {_bytes(change.before)} -> {_bytes(change.after)} "
        f"({sign}{format_bytes(abs(change.delta))}{counts})"
    )


def hotspot_lines(
    current: Sequence[Hotspot],
    baseline: Sequence[Hotspot] | None,
    limit: int = 8,
    indent: str = "  ",
    times: tuple[float, float] = (0.0, 0.0),
) -> list[str]:
    """The explanation of a time regression: the diff when the baseline has hotspots, else the top list.

    ``times``: the baseline's and this run's median time per call, to order by contribution."""
    if not current:
        return [f"{indent}(no CPU samples in the profile: the workload ran too briefly)"]
    if baseline:
        changes = diff_hotspots(current, baseline, limit=limit, times=times)
        if changes:
            order = (
                "biggest contribution to the change in time per call first"
                if times[0] > 0 and times[1] > 0
                else "share of profiled time"
            )
            return [f"hotspot changes against the baseline ({order}):"] + [
                indent + format_hotspot_change(c) for c in changes
            ]
        head = "no function's share of time moved by 1 point or more; top hotspots now:"
    else:
        head = "the baseline stores no hotspots (save it with --causal-eval-profile=cpu); top hotspots now:"
    return [head] + [
        f"{indent}{h.location} {h.function}  self {format_share(h.self_share)}, "
        f"total {format_share(h.total_share)}"
        for h in current[:limit]
    ]


def site_lines(
    current: Sequence[AllocationSite],
    baseline: Sequence[AllocationSite] | None,
    what: str = "allocation sites",
    limit: int = 8,
    indent: str = "  ",
) -> list[str]:
    """Explain a memory regression: the site diff when the baseline has sites, else the top list."""
    if baseline:
        changes = diff_sites(current, baseline, limit=limit)
        if changes:
            return [f"{what} that changed against the baseline:"] + [
                indent + format_site_change(c) for c in changes
            ]
        head = f"no {what} changed against the baseline; top {what} now:"
    else:
        head = f"the baseline stores no {what} (save it with --causal-eval-profile=memory); top {what} now:"
    return [head, *format_sites(current[:limit], indent)]


def format_sites(sites: Sequence[AllocationSite], indent: str = "  ") -> list[str]:
    if not sites:
        return [f"{indent}(no allocations recorded)"]
    return [
        f"{indent}{s.location} {s.function}  {format_bytes(s.size)} in {s.count} allocations" for s in sites
    ]
