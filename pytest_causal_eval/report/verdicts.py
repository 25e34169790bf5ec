"""The end-of-session verdict summary: counts and the rows that are not a plain pass (pure)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.extra_keys import HEALTH, NOISE, REMEASURED, VERDICT
from pytest_causal_eval.report.attention import MetricLine, format_centers, metric_lines
from pytest_causal_eval.report.terminal import common_prefix, wrap_name
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
    lines: tuple[MetricLine, ...] = ()  # every gated metric that did not pass, the headline first
    centers: str = ""  # the headline's "median 42.0 ms vs 15.9 ms"

    @property
    def points(self) -> bool:
        return self.threshold.endswith("pts")

    @property
    def others(self) -> tuple[MetricLine, ...]:
        """The metrics besides the headline that did not pass (each gets a line of its own)."""
        return tuple(line for line in self.lines if line.metric != self.metric)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def verdict_rows(measurements: Sequence[Measurement]) -> list[VerdictRow]:
    """One row per measurement that carries a verdict, worst first, then by id."""
    rows: list[VerdictRow] = []
    for m in measurements:
        record = VERDICT.get(m)
        if record is None:
            continue
        health = HEALTH.get(m)
        noise = NOISE.get(m)
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
                noisy=health is not None and health.noisy,
                cv=noise.cv if noise is not None else None,
                mdc=noise.mdc if noise is not None else None,
                remeasured=REMEASURED.get(m) or 0,
                lines=tuple(metric_lines(record)),
                centers=_centers(record),
            )
        )
    rank = {v: i for i, v in enumerate(ORDER)}
    rows.sort(key=lambda r: (rank.get(r.verdict, len(ORDER)), -abs(r.change or 0.0), r.id))
    return rows


def _centers(verdict: Verdict) -> str:
    record = verdict.to_dict()
    if not record.get("metric"):
        return ""
    heads = metric_lines({**record, "verdict": "regressed"})  # the headline, whatever its verdict
    return format_centers(heads[0]) if heads else ""


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


def format_line_interval(line: MetricLine) -> tuple[str, str]:
    """A metric line's change and interval, as ``format_interval`` gives them for a row."""
    row = VerdictRow(
        "", line.verdict, line.metric, line.change, line.ci_low, line.ci_high, line.threshold, ""
    )
    return format_interval(row)


def render_summary(rows: Sequence[VerdictRow], width: int = 80, machine: str = "") -> list[str]:
    """Terminal lines: the machine's state when it was noisy, the counts, then a table of every row
    that is not a plain pass (nor new), one line per gated metric that did not pass, biggest change
    first. Names lose only their common prefix: when a name does not fit it gets lines of its own
    (wrapped, never cut) and its numbers follow, indented."""
    if not rows:
        return []
    counts = count_verdicts(rows)
    parts = [f"{counts[v]} {v}" for v in ORDER if counts.get(v)]
    lines = []
    if machine:
        lines = textwrap.wrap(f"causal-eval: {machine}", max(width, 40), subsequent_indent="  ")
    lines.append("verdicts: " + ", ".join(parts))
    if not machine and any(r.noisy for r in rows):
        lines.append("note: the machine was noisy (load/busy processes) during some measurements")
    shown = [r for r in rows if r.verdict not in ("pass", "new")]
    if not shown:
        return lines
    prefix = common_prefix([r.id for r in shown])
    if not prefix.endswith(("/", "::")):  # common_prefix may cut inside a name when ids share no path
        prefix = ""
    if prefix:
        lines.append(f"(names below are in {prefix.rstrip('/:')})")
    cells: list[tuple[str, ...]] = []
    for r in shown:
        change, ci = format_interval(r)
        flags = []
        if r.noisy:
            flags.append("noisy")
        if r.remeasured:
            flags.append(f"re-measured x{r.remeasured}")
        name = r.id[len(prefix) :] or r.id
        cells.append((name, r.verdict, r.metric, change, ci, r.threshold, " ".join(flags)))
        for other in r.others:
            o_change, o_ci = format_line_interval(other)
            cells.append(("", other.verdict, other.metric, o_change, o_ci, other.threshold, ""))
    headers = ("name", "verdict", "metric", "change", "95% CI", "limit", "")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    rest = sum(widths[1:6]) + 2 * 5 + (2 + widths[6] if widths[6] else 0)
    one_line = widths[0] + 2 + rest <= max(width, 40)

    def numbers(row: Sequence[str]) -> str:
        out = [row[1].ljust(widths[1]), row[2].ljust(widths[2])]
        out += [row[i].rjust(widths[i]) for i in (3, 4, 5)]
        out.append(row[6])
        return "  ".join(out).rstrip()

    if one_line:
        lines.append((headers[0].ljust(widths[0]) + "  " + numbers(headers)).rstrip())
        lines.extend((c[0].ljust(widths[0]) + "  " + numbers(c)).rstrip() for c in cells)
        return lines
    lines.append("  " + numbers(headers))
    for c in cells:
        if c[0]:
            lines.extend(wrap_name(c[0], max(width, 40)))
        lines.append("  " + numbers(c))
    return lines
