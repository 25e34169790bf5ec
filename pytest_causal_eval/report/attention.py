"""What every report says first (pure): the gated metrics that did not pass, one line each, and
whether the machine was noisy and what was seen.

The terminal summary, the HTML page and the Markdown all take their top lines from here, so the three
say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.extra_keys import CPU_REASONS, HEALTH, JUDGED_BY_FOREIGN_SHARE, VERDICT
from pytest_causal_eval.measure.load import foreign_share
from pytest_causal_eval.report.units import format_seconds, format_value
from pytest_causal_eval.results import Measurement, Verdict

__all__ = [
    "FOREIGN_LOAD",
    "MetricLine",
    "format_centers",
    "format_metric_change",
    "machine_note",
    "metric_lines",
]

#: The reason a verdict record gives when a measurement was left undecided because of foreign load.
FOREIGN_LOAD = "foreign load"


@dataclass(frozen=True)
class MetricLine:
    """One gated metric's comparison with the baseline."""

    metric: str
    verdict: str
    change: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: str
    candidate: float | None
    baseline: float | None
    unit: str
    statistic: str = "median"  # which statistic candidate and baseline are, for time ("p10")

    @property
    def label(self) -> str:
        return self.statistic if self.metric == "time" else self.metric

    @property
    def points(self) -> bool:
        return self.threshold.endswith("pts")


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _line(entry: Mapping[str, Any], unit: str) -> MetricLine:
    return MetricLine(
        metric=str(entry.get("metric") or "time"),
        verdict=str(entry.get("verdict") or ""),
        change=_float(entry.get("change")),
        ci_low=_float(entry.get("ci_low")),
        ci_high=_float(entry.get("ci_high")),
        threshold=str(entry.get("threshold") or ""),
        candidate=_float(entry.get("candidate_median")),
        baseline=_float(entry.get("baseline_median")),
        unit=str(entry.get("unit") or unit),
        statistic=str(entry.get("statistic") or "median"),
    )


def metric_lines(verdict: Verdict | Mapping[str, Any] | None) -> list[MetricLine]:
    """Every gated metric of a verdict record whose verdict is not a pass, the headline first.

    Records written before the per-metric numbers were stored give the headline metric only."""
    record = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    if not isinstance(record, Mapping) or not record.get("metric"):
        return []
    head = _line(record, str(record.get("unit") or "s"))
    out = [head] if head.verdict not in ("pass", "new", "") else []
    entries = record.get("all")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or entry.get("metric") == head.metric:
            continue
        line = _line(entry, "s" if entry.get("metric") == "time" else "")
        if line.verdict not in ("pass", "new", ""):
            out.append(line)
    return out


def _value(value: float, line: MetricLine) -> str:
    if line.metric == "time" or line.unit == "s":
        return format_seconds(value)
    return format_value(value, line.unit)


def format_centers(line: MetricLine) -> str:
    """``p10 42.0 ms vs 15.9 ms`` (time; ``median`` in older records) or
    ``alloc_count 295525 vs 188289``; '' when unknown."""
    if line.candidate is None or line.baseline is None:
        return ""
    return f"{line.label} {_value(line.candidate, line)} vs {_value(line.baseline, line)}"


def format_metric_change(line: MetricLine) -> str:
    """``alloc_count 295525 vs baseline 188289: +57.0%`` (the numbers before anything else)."""
    if line.points:
        change = f"{line.change:+.1f}pts" if line.change is not None else "?"
    else:
        change = f"{line.change:+.1%}" if line.change is not None else "?"
    if line.candidate is None or line.baseline is None:
        return f"{line.label}: {change}"
    return f"{line.label} {_value(line.candidate, line)} vs baseline {_value(line.baseline, line)}: {change}"


def _noisy(m: Measurement) -> bool:
    health = HEALTH.get(m)
    return health is not None and health.noisy


def _foreign_load(m: Measurement) -> bool:
    """An inconclusive verdict left so by the foreign-load rule: the rule gives its time comparison
    a ``reason`` (``baseline.load``), which the record carries for the headline and in ``all``."""
    record = VERDICT.get(m)
    if record is None or record.verdict != "inconclusive":
        return False
    if record.reason or FOREIGN_LOAD in record.message:
        return True
    return any(
        isinstance(e, Mapping) and e.get("metric") == "time" and e.get("reason") for e in record.all or []
    )


def _shares(measurements: Sequence[Measurement]) -> str:
    """' (foreign load: other processes used 48% of the CPUs)', the shares seen as a range."""
    shares = sorted(s for m in measurements if (s := foreign_share(m.extra.get("load"))) is not None)
    if not shares:
        return f" ({FOREIGN_LOAD})"
    low, high = f"{shares[0]:.0%}", f"{shares[-1]:.0%}"
    seen = low if low == high else f"{low}-{high}"
    return f" ({FOREIGN_LOAD}: other processes used {seen} of the CPUs during the timed rounds)"


def _start_health(
    measurements: Sequence[Measurement], session_health: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The start-of-run health as far as it still speaks for the run: when every measurement read
    the foreign CPU load during its own rounds, those readings judged the CPU, later than the
    start-of-run load average and busy processes did, so those reasons give way to them."""
    if not isinstance(session_health, Mapping):
        return None
    healths = [HEALTH.get(m) for m in measurements]
    if not healths or not all(h is not None and h.judged_by == JUDGED_BY_FOREIGN_SHARE for h in healths):
        return session_health
    reasons = session_health.get("reasons")
    kept = [r for r in reasons if not str(r).startswith(CPU_REASONS)] if isinstance(reasons, list) else []
    return {**session_health, "reasons": kept, "noisy": bool(kept)}


def machine_note(measurements: Sequence[Measurement], session_health: Mapping[str, Any] | None) -> str:
    """One sentence on a noisy machine and what was seen ('' when it was quiet throughout).

    ``noisy machine: 3 of 12 measurements taken under load, 1 inconclusive (foreign load: other
    processes used 48% of the CPUs during the timed rounds); seen: load average 3.85 on 2 CPU(s)
    (other work: 2.85); busy processes: ...``"""
    noisy = sum(1 for m in measurements if _noisy(m))
    under_load = [m for m in measurements if _foreign_load(m)]
    foreign = len(under_load)
    start = _start_health(measurements, session_health)
    at_start = bool(start is not None and start.get("noisy"))
    if not (noisy or foreign or at_start):
        return ""
    seen: list[str] = []
    sources: list[Any] = [start] if at_start else []
    sources += [h.to_dict() for m in measurements if (h := HEALTH.get(m)) is not None and h.noisy]
    for health in sources:
        reasons = health.get("reasons") if isinstance(health, Mapping) else None
        for reason in reasons if isinstance(reasons, list) else []:
            text = str(reason)
            kind = text.split(" ")[0]  # one reason of each kind: the first seen
            if not any(s.split(" ")[0] == kind for s in seen):
                seen.append(text)
    parts = []
    if noisy:
        parts.append(f"{noisy} of {len(measurements)} measurement(s) taken under load")
    elif at_start:
        parts.append("the machine was busy at the start")
    if foreign:
        parts.append(f"{foreign} inconclusive{_shares(under_load)}")
    text = "noisy machine: " + ", ".join(parts)
    if seen:
        text += "; seen: " + "; ".join(seen)
    return text + " - the timings may be off; rerun on a quiet machine before trusting a time verdict"
