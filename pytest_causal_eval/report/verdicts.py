"""The end-of-session verdict summary: counts and the rows that are not a plain pass (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.report.terminal import common_prefix, shorten
from pytest_causal_eval.results import Measurement, Verdict

__all__ = ["ORDER", "VerdictRow", "count_verdicts", "format_interval", "render_summary", "verdict_rows"]

ORDER = ("regressed", "inconclusive", "improved", "pass", "new")


@dataclass(frozen=True)
class VerdictRow:
    id: str
    verdict: str
    metric: str
    change: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: str
    message: str
    noisy: bool = False
    cv: float | None = None
    mdc: float | None = None
    remeasured: int = 0

    @property
    def points(self) -> bool:
        return self.threshold.endswith("pts")


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def verdict_rows(measurements: Sequence[Measurement]) -> list[VerdictRow]:
    """One row per measurement that carries a verdict, worst first, then by id."""
    rows: list[VerdictRow] = []
    for m in measurements:
        record = Verdict.from_dict(m.extra.get("verdict"))
        if record is None:
            continue
        health = m.extra.get("health")
        noise = m.extra.get("noise")
        noise = noise if isinstance(noise, Mapping) else {}
        rows.append(
            VerdictRow(
                id=m.id,
                verdict=record.verdict or "new",
                metric=record.metric or "",
                change=record.change,
                ci_low=record.ci_low,
                ci_high=record.ci_high,
                threshold=record.threshold or "",
                message=record.message,
                noisy=bool(isinstance(health, Mapping) and health.get("noisy")),
                cv=_float(noise.get("cv")),
                mdc=_float(noise.get("mdc")),
                remeasured=int(m.extra.get("remeasured") or 0),
            )
        )
    rank = {v: i for i, v in enumerate(ORDER)}
    rows.sort(key=lambda r: (rank.get(r.verdict, len(ORDER)), r.id))
    return rows


def count_verdicts(rows: Sequence[VerdictRow]) -> dict[str, int]:
    counts = dict.fromkeys(ORDER, 0)
    for row in rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    return counts


def format_interval(row: VerdictRow) -> tuple[str, str]:
    """('+21.8%', '+18.0%..+25.1%') or points; dashes when unknown."""
    if row.change is None:
        return "-", "-"
    if row.points:
        change = f"{row.change:+.1f}pts"
        ci = f"{row.ci_low:+.1f}..{row.ci_high:+.1f}pts" if row.ci_low is not None else "-"
        return change, ci
    change = f"{row.change:+.1%}"
    ci = (
        f"{row.ci_low:+.1%}..{row.ci_high:+.1%}"
        if row.ci_low is not None and row.ci_high is not None
        else "-"
    )
    return change, ci


def render_summary(rows: Sequence[VerdictRow], width: int = 80, noisy_machine: bool = False) -> list[str]:
    """Terminal lines: the counts, then a table of every row that is not a plain pass (nor new)."""
    if not rows:
        return []
    counts = count_verdicts(rows)
    parts = [f"{counts[v]} {v}" for v in ORDER if counts.get(v)]
    lines = ["verdicts: " + ", ".join(parts)]
    if noisy_machine or any(r.noisy for r in rows):
        lines.append("note: the machine was noisy (load/busy processes) during some measurements")
    shown = [r for r in rows if r.verdict not in ("pass", "new")]
    if not shown:
        return lines
    prefix = common_prefix([r.id for r in shown])
    if not prefix.endswith(("/", "::")):  # common_prefix may cut inside a name when ids share no path
        prefix = ""
    cells = []
    for r in shown:
        change, ci = format_interval(r)
        flags = []
        if r.noisy:
            flags.append("noisy")
        if r.remeasured:
            flags.append(f"re-measured x{r.remeasured}")
        cells.append(
            (r.id[len(prefix) :] or r.id, r.verdict, r.metric, change, ci, r.threshold, " ".join(flags))
        )
    headers = ("name", "verdict", "metric", "change", "95% CI", "limit", "")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    fixed = sum(widths[1:]) + 2 * (len(headers) - 1)
    widths[0] = max(min(widths[0], 32), min(widths[0], max(60, width) - fixed))

    def fmt(row: Sequence[str]) -> str:
        out = [shorten(row[0], widths[0]).ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2])]
        out += [row[i].rjust(widths[i]) for i in (3, 4, 5)]
        out.append(row[6])
        return "  ".join(out).rstrip()

    lines.append(fmt(headers))
    lines.extend(fmt(c) for c in cells)
    return lines
