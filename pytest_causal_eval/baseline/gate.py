"""The regression gate for one measurement against its baseline entry (pure: no I/O).

Every quantity both sides have is compared with ``stats.compare``: the time per iteration (lower is
better) and each custom metric (its own ``better``). ``throughput`` is derived from the time and is
not judged twice. The measurement's verdict is its worst quantity's: regressed, then inconclusive,
then improved, then pass.

Time is compared at its 10th percentile (``TIME_QUANTILE``: "p10" in the messages), not at its
median, whenever both sides hold rounds. Noise only ever adds time, and on a shared machine it comes
in spells (a neighbour's burst, a host that runs the virtual CPU slower for a second or two) that
cover part of a measurement's rounds: a median moves by the whole slow-down as soon as a spell
covers half the rounds, the fast tenth only when a spell covers nine in ten. The minimum would be
the extreme of that argument (it is what BenchmarkTools.jl judges by); the 10th percentile keeps
its robustness to spells without resting on one lucky round (replayed on the rounds of one
``benchmarks/gate_quality.py`` run: 4 false alarms of 24 at 0% against the median's 12, 24 catches
of 24 at +25% against 20). The median is compared instead when a side is known only by its summary
(a baseline imported without raw data), when either side has fewer than ``MIN_P10_ROUNDS`` rounds,
and when the baseline is centered on older saving sessions that recorded only their medians
(``baseline.center``); the message then says ``median``.

The time comparison's between-process allowance (the floor, 2% by default) is widened when the
baseline holds three or more saving sessions of the same code that drifted apart by more
(``schema.session_floor``): the stored samples come from one session, and a candidate session of the
same code can land that far away from it. It is never narrowed, so a suite saved once behaves as
before. Sessions of different code are never compared with each other: a real speed-up between
two saves is not noise. With two or more saving sessions of the code the stored rounds measured,
the time comparison is centered on the median of their p10s (``baseline.center``; of their
medians for sessions saved before they recorded one), not on the last save alone. Saves made while
other processes took ``GateConfig.max_foreign_load`` of the CPUs or more are left out of both
(while a quieter save of the code exists), and the comparison's ``baseline_note`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_causal_eval.baseline.center import SessionCenter, centered_side, session_center
from pytest_causal_eval.baseline.schema import session_floor
from pytest_causal_eval.extra_keys import MEMORY
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD
from pytest_causal_eval.profiling.tolerance import MEMORY_ABS_TOLERANCE, memory_comparable
from pytest_causal_eval.report.units import format_count, format_seconds, format_value
from pytest_causal_eval.results import Measurement, Verdict
from pytest_causal_eval.stats.compare import (
    TIME_QUANTILE,
    Comparison,
    GateSettings,
    Side,
    Threshold,
    compare,
    parse_threshold,
    quantile_of,
    seed_for,
)
from pytest_causal_eval.stats.counts import COUNT_METRICS, compare_counts
from pytest_causal_eval.stats.thresholds import DEFAULT_THRESHOLD

__all__ = [
    "COUNT_METRICS",
    "DERIVED_METRICS",
    "GateConfig",
    "baseline_side",
    "build_verdict",
    "config_from_record",
    "format_change",
    "format_comparison",
    "headline",
    "judge",
    "time_settings",
    "verdict_record",
]

DERIVED_METRICS = frozenset({"throughput"})
# Below these absolute differences a count-like metric has not changed, whatever the ratio says
# (one byte more is not a regression). Memory floors come from the profiling feature.
ABS_TOLERANCE: dict[str, float] = {
    **MEMORY_ABS_TOLERANCE,
    "io_read_bytes": 1024.0 * 1024.0,
    "io_write_bytes": 1024.0 * 1024.0,
    "gpu_peak_allocated": 4 * 1024.0 * 1024.0,
    "gpu_peak_reserved": 16 * 1024.0 * 1024.0,
}
# Peaks of these metrics depend on the memory backend (memray vs tracemalloc).
BACKEND_METRICS = frozenset({"mem_peak", "alloc_count"})
TIME = "time"
# Below this many rounds on either side the time gate compares medians: the 10th percentile of a
# handful of rounds is their fastest one or two, and a bootstrap of it cannot go below the minimum.
MIN_P10_ROUNDS = 20
# COUNT_METRICS (instruction mode's per-call counts) are judged by ``stats.counts``: no bootstrap,
# a fixed floor, never inconclusive; shown as "instructions 1.92M vs baseline 1.71M per call".
_RANK: dict[str, int] = {"regressed": 0, "inconclusive": 1, "improved": 2, "pass": 3, "new": 4}


@dataclass(frozen=True)
class GateConfig:
    """Thresholds for one measurement: ``threshold`` for everything, ``per_metric`` overrides;
    ``max_foreign_load``: the foreign share at or above which a saving session is said to be made
    under load (None: off, every save counts alike)."""

    threshold: Threshold = DEFAULT_THRESHOLD
    per_metric: Mapping[str, Threshold] = field(default_factory=dict)
    settings: GateSettings = field(default_factory=GateSettings)
    max_foreign_load: float | None = DEFAULT_MAX_FOREIGN_LOAD

    def for_metric(self, name: str) -> Threshold:
        return self.per_metric.get(name, self.threshold)


def config_from_record(
    recorded: Any,
    override: Threshold | None = None,
    max_foreign_load: float | None = DEFAULT_MAX_FOREIGN_LOAD,
) -> GateConfig:
    """The thresholds a run recorded in ``extra['thresholds']`` (``override`` replaces the default)."""
    per_metric: dict[str, Threshold] = {}
    default = override or DEFAULT_THRESHOLD
    if isinstance(recorded, Mapping):
        for name, text in recorded.items():
            try:
                parsed = parse_threshold(text)
            except ValueError:
                continue
            if name == "default":
                default = override or parsed
            else:
                per_metric[str(name)] = parsed
    return GateConfig(threshold=default, per_metric=per_metric, max_foreign_load=max_foreign_load)


def _side(samples: Sequence[float] | None, value: float) -> Side:
    if samples and len(samples) >= 3:
        return Side.of_samples(samples)
    return Side.of_value(value)


def baseline_side(time_block: Mapping[str, Any]) -> Side:
    """A stored time block as a comparison side: raw samples when kept, else its summary."""
    samples = [float(v) for v in time_block.get("samples") or []]
    if len(samples) >= 3:
        return Side.of_samples(samples)
    summary = time_block.get("summary") or {}
    median = float(summary["median"])
    iqr = summary.get("iqr")
    rounds = int(time_block.get("rounds") or summary.get("n") or 0)
    if iqr is not None and rounds >= 3:
        return Side.of_summary(median, float(iqr), rounds)
    return Side.of_value(median)


def time_settings(
    time_block: Mapping[str, Any],
    settings: GateSettings,
    center_sessions: int = 1,
    max_foreign_load: float | None = None,
) -> GateSettings:
    """The settings for a time comparison: the floor widened to what the baseline's saving sessions
    of one code showed, when that is more than the default (never narrowed).

    The learned floor is the spread of one session against another; against a center that is the
    median of ``center_sessions`` sessions the difference varies less: ``sd * sqrt(1 + pi / 2N)``
    (the variance of a median of N), not ``sd * sqrt 2``. Sessions saved under foreign load at or
    above ``max_foreign_load`` are not learned from."""
    learned = session_floor(time_block.get("sessions"), max_foreign_load)
    if learned is None:
        return settings
    floor, _df, used = learned
    if center_sessions >= 2:
        floor = floor / math.sqrt(2.0) * math.sqrt(1.0 + math.pi / (2.0 * center_sessions))
    if floor <= settings.floor:
        return settings
    note = f"learned from {used} saving sessions of the same code"
    return replace(settings, floor=floor, floor_note=note)


def _time_center(
    sessions: Any, base: Side, rounds: int, limit: float | None
) -> tuple[SessionCenter | None, float, float | None]:
    """Where the stored time is centered, the quantile compared, and the stored rounds' own value of
    it: their p10 centered on the saving sessions' p10s; when older sessions recorded only medians,
    or either side has fewer than ``MIN_P10_ROUNDS`` rounds (``rounds``: the candidate's), the
    median centered on their medians, so that center and comparison are of one statistic."""
    enough = min(len(base.samples), rounds) >= MIN_P10_ROUNDS
    stored_p10 = quantile_of(base.samples, TIME_QUANTILE) if enough else None
    center = session_center(sessions, stored_p10, limit, "p10") if stored_p10 is not None else None
    if center is not None:
        return center, TIME_QUANTILE, stored_p10
    by_median = session_center(sessions, base.center, limit, "median")
    if stored_p10 is None or (by_median is not None and by_median.value is not None):
        return by_median, 0.5, base.center
    return by_median, TIME_QUANTILE, stored_p10


def judge(m: Measurement, entry: Mapping[str, Any] | None, config: GateConfig) -> list[Comparison]:
    """Compare every shared quantity; empty when there is no entry (the measurement is new)."""
    if entry is None:
        return []
    out: list[Comparison] = []
    time_block = entry.get("time")
    time_threshold = config.for_metric(TIME)
    if m.samples and isinstance(time_block, Mapping) and time_threshold.kind != "off":
        base = baseline_side(time_block)
        center, quantile, current = _time_center(
            time_block.get("sessions"), base, len(m.samples), config.max_foreign_load
        )
        comparison = compare(
            centered_side(base, center.value, current)
            if center is not None and center.value is not None
            else base,
            Side.of_samples(m.samples),
            metric=TIME,
            better="lower",
            threshold=time_threshold,
            seed=seed_for(f"{m.id}::{TIME}"),
            settings=replace(
                time_settings(
                    time_block, config.settings, center.sessions if center else 1, config.max_foreign_load
                ),
                quantile=quantile,
            ),
            unit="s",
        )
        out.append(replace(comparison, baseline_note=center.note) if center is not None else comparison)
    stored = entry.get("metrics") or {}
    for name, metric in sorted(m.metrics.items()):
        if name in DERIVED_METRICS and m.samples:
            continue
        old = stored.get(name)
        threshold = config.for_metric(name)
        if not isinstance(old, Mapping) or threshold.kind == "off":
            continue
        if name in BACKEND_METRICS and not memory_comparable(
            _backend(MEMORY.get(m)), _backend((entry.get("profile") or {}).get("memory"))
        ):
            continue
        if name in COUNT_METRICS:
            out.append(
                compare_counts(
                    float(old["value"]), metric.value, metric=name, better=metric.better, threshold=threshold
                )
            )
            continue
        comparison = compare(
            _side(old.get("samples"), float(old["value"])),
            _side(metric.samples, metric.value),
            metric=name,
            better=metric.better,
            threshold=threshold,
            seed=seed_for(f"{m.id}::{name}"),
            settings=config.settings,
            unit=metric.unit,
        )
        out.append(_within_floor(comparison, float(old["value"]), metric.value))
    return out


def _backend(memory: object) -> object:
    """The profiler that measured memory (memray, tracemalloc), from a memory profile."""
    return memory.get("backend") if isinstance(memory, Mapping) else None


def _within_floor(c: Comparison, before: float, after: float) -> Comparison:
    """A change smaller than the metric's absolute tolerance is a pass, whatever its ratio."""
    floor = ABS_TOLERANCE.get(c.metric)
    if floor is None or c.verdict not in ("regressed", "improved", "inconclusive"):
        return c
    if abs(after - before) <= floor:
        return replace(c, verdict="pass")
    return c


def headline(comparisons: Sequence[Comparison]) -> Comparison | None:
    """The comparison that decides the measurement's verdict (worst first; time wins ties)."""
    if not comparisons:
        return None
    return min(comparisons, key=lambda c: (_RANK[c.verdict], c.metric != TIME))


def _fmt(value: float, metric: str, unit: str) -> str:
    return format_seconds(value) if metric == TIME else format_value(value, unit)


def format_change(c: Comparison) -> str:
    """'+21.8% (95% CI +18.0%..+25.1%)' or '-4.0pts (95% CI -5.1pts..-2.9pts)'."""
    if c.threshold.kind == "absolute":
        return f"{c.change:+.1f}pts (95% CI {c.ci_low:+.1f}pts..{c.ci_high:+.1f}pts)"
    return f"{c.change:+.1%} (95% CI {c.ci_low:+.1%}..{c.ci_high:+.1%})"


def format_comparison(c: Comparison, unit: str = "") -> str:
    """One line with the numbers, e.g. 'p10 12.3 ms vs baseline 10.1 ms: +21.8% (...) > 10% threshold'."""
    label = c.statistic if c.metric == TIME else c.metric
    if c.metric in COUNT_METRICS:
        change = f"{c.change:+.1f}pts" if c.threshold.kind == "absolute" else f"{c.change:+.1%}"
        head = (
            f"{label} {format_count(c.candidate_center)} vs baseline {format_count(c.baseline_center)} "
            f"per call: {change}"
        )
    else:
        note = f" ({c.baseline_note})" if c.baseline_note else ""
        head = (
            f"{label} {_fmt(c.candidate_center, c.metric, unit)} vs baseline "
            f"{_fmt(c.baseline_center, c.metric, unit)}{note}: {format_change(c)}"
        )
    limit = str(c.threshold)
    if c.reason:
        relation = f"> {limit} threshold, but {c.reason}: inconclusive"
    elif c.verdict == "regressed":
        relation = f"> {limit} threshold" if c.better == "lower" else f"beyond -{limit} threshold"
    elif c.verdict == "improved":
        relation = f"improved beyond {limit}"
    elif c.verdict == "inconclusive":
        relation = f"too noisy to decide against the {limit} threshold"
    else:
        relation = f"within the {limit} threshold"
    if c.better == "higher":
        relation += " (higher is better)"
    return f"{head} {relation}"


NOT_GATED = "not gated: every metric's threshold is off"


def build_verdict(
    m: Measurement,
    comparisons: Sequence[Comparison],
    baseline_key: str | None,
    has_baseline: bool = False,
) -> Verdict:
    """The measurement's verdict from its comparisons. No comparisons with a baseline entry
    (``has_baseline``) means nothing is gated (every threshold off): a pass that says so."""
    top = headline(comparisons)
    if top is None:
        return Verdict(
            verdict="pass" if has_baseline else "new",
            message=NOT_GATED if has_baseline else "no baseline for this measurement",
            baseline=baseline_key,
        )
    unit = m.metrics[top.metric].unit if top.metric in m.metrics else "s"
    return Verdict(
        verdict=top.verdict,
        metric=top.metric,
        change=top.change,
        ci_low=top.ci_low,
        ci_high=top.ci_high,
        threshold=str(top.threshold),
        baseline_median=top.baseline_center,
        candidate_median=top.candidate_center,
        better=top.better,
        unit=unit,
        message=format_comparison(top, unit),
        method=top.method,
        statistic=top.statistic if top.statistic != "median" else None,
        reason=top.reason or None,
        baseline_note=top.baseline_note or None,
        baseline=baseline_key,
        all=[
            {
                "metric": c.metric,
                "verdict": c.verdict,
                "change": c.change,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "threshold": str(c.threshold),
                "baseline_median": c.baseline_center,
                "candidate_median": c.candidate_center,
                **({"statistic": c.statistic} if c.statistic != "median" else {}),
                "unit": m.metrics[c.metric].unit if c.metric in m.metrics else "s",
                "message": format_comparison(c, m.metrics[c.metric].unit if c.metric in m.metrics else "s"),
                **({"reason": c.reason} if c.reason else {}),
            }
            for c in comparisons
        ],
    )


def verdict_record(
    m: Measurement,
    comparisons: Sequence[Comparison],
    baseline_key: str | None,
    has_baseline: bool = False,
) -> dict[str, Any]:
    """The dict stored in ``measurement.extra['verdict']``: ``build_verdict(...).to_dict()``."""
    return build_verdict(m, comparisons, baseline_key, has_baseline).to_dict()
