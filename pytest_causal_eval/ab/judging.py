"""Judging an A/B run: pooled head samples against pooled base samples (pure: no I/O).

Each measurement id is pooled per side over that side's runs (``pooling.pool_measurements``) and
judged with the gate's own statistics (``baseline.gate.judge``: ratio of the pooled rounds' 10th
percentiles for time, of medians below 20 rounds a side and for other metrics; circular block
bootstrap, verdicts). The observed between-run spread below is still read from the runs' medians,
which a burst on one run moves more than the pooled p10 (conservative: a wider floor). Ids
measured only on the head are ``new``; ids measured only on the base are ``removed``.

Should the between-process floor apply?
---------------------------------------
Yes, but scaled to what an A/B run actually leaves uncertain. The gate's 2% floor stands for the
shift two *processes* show on the same code at the same time (memory layout, address-space
randomization, hash seeds, which core and frequency state they got); no round inside a process can
see it, so the block bootstrap cannot estimate it. Measuring both sides in the same job and
alternating them (A B B A) removes a different thing: the drift of the runner between jobs (the
>10% one) and, to first order, any linear drift inside the job, which ABBA cancels exactly. It
does not remove the per-process shift: every run is still a fresh process. So dropping the floor
would make an A/A run "significantly" different by a process offset (the false alarms the floor
exists to prevent), and keeping it at full size would ignore that the offsets average out over R
processes per side.

The floor is the standard deviation of the log ratio between one process and another, ``f``; a
process offset therefore has a standard deviation of ``f / sqrt(2)``, and the difference of two
sides pooled over ``Ra`` and ``Rb`` processes has ``f / sqrt(2) * sqrt(1/Ra + 1/Rb)`` (``f`` for one
process each, ``f / sqrt(2)`` = 1.4% for ABBA). With two or more runs per side the offsets can also
be *seen*: the per-run medians of one side differ only by them (and by drift, which makes the
estimate conservative). The floor used is the larger of the scaled prior and that observed spread
(the pooled within-side standard deviation of the runs' log medians, scaled the same way), so a
machine that is noisier between processes than 2% widens the interval instead of convicting. It
applies to every relative comparison of the measurement (time and ratio metrics); absolute
thresholds never had a floor.

Foreign load
------------
The gate's load rule applies as in a session: a time regression is inconclusive when other
processes used ``max_foreign_load`` of the CPUs or more during the head's timed rounds (each head
run's reading, pooled over the runs by the seconds they covered). Load on the base's side makes the
base slow and can hide a regression but not invent one; the base's pooled reading is recorded
beside the head's (``extra['ab']``), and a base measured under that load says it may be slow
(``baseline_note``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.ab.pooling import pool_measurements, run_medians
from pytest_causal_eval.baseline.gate import build_verdict, config_from_record, format_comparison, judge
from pytest_causal_eval.baseline.load import judge_under_load
from pytest_causal_eval.baseline.schema import measured_entry
from pytest_causal_eval.extra_keys import INSTRUCTION_HOTSPOTS, THRESHOLDS, VERDICT
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD, LOAD_EXTRA_KEY, foreign_share
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.compare import DEFAULT_FLOOR, Threshold
from pytest_causal_eval.stats.summary import pooled_log_sd

__all__ = ["ABJudgement", "ab_floor", "group_runs", "judge_ab", "require_replication"]

LOAD_FLAG = "--max-foreign-load"  # the ab command's name for the gate's --causal-eval-max-foreign-load


def ab_floor(
    base_medians: Sequence[float], head_medians: Sequence[float], floor: float = DEFAULT_FLOOR
) -> float:
    """The between-process floor for sides pooled over several runs (see the module docstring)."""
    ra, rb = max(1, len(base_medians)), max(1, len(head_medians))
    scale = math.sqrt(1.0 / ra + 1.0 / rb)
    prior = floor / math.sqrt(2.0) * scale
    spread, _df = pooled_log_sd((base_medians, head_medians))
    return max(prior, spread * scale)


def group_runs(runs: Sequence[Sequence[Measurement]]) -> dict[str, list[Measurement]]:
    """Measurements by id, in run order."""
    out: dict[str, list[Measurement]] = {}
    for run in runs:
        for m in run:
            out.setdefault(m.id, []).append(m)
    return out


@dataclass
class ABJudgement:
    """The pooled head measurements (with ``extra['verdict']`` and ``extra['ab']``), the pooled base
    measurements, new and removed ids, and one line per regressed or inconclusive comparison."""

    head: list[Measurement] = field(default_factory=list)
    base: list[Measurement] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def judge_ab(
    base_runs: Sequence[Sequence[Measurement]],
    head_runs: Sequence[Sequence[Measurement]],
    *,
    override: Threshold | None = None,
    base_label: str = "base",
    max_foreign_load: float | None = DEFAULT_MAX_FOREIGN_LOAD,
    load_flag: str = LOAD_FLAG,
) -> ABJudgement:
    """Pool each side per id and judge the head against the base with the gate's statistics; a time
    regression measured under foreign load is inconclusive (see the module docstring)."""
    base_by_id = group_runs(base_runs)
    head_by_id = group_runs(head_runs)
    out = ABJudgement()
    for mid in sorted(base_by_id):
        out.base.append(pool_measurements(base_by_id[mid]))
    pooled_base = {m.id: m for m in out.base}
    for mid in sorted(head_by_id):
        runs = head_by_id[mid]
        head = pool_measurements(runs)
        base = pooled_base.get(mid)
        config = config_from_record(THRESHOLDS.get(head), override, max_foreign_load)
        info: dict[str, Any] = {"head_runs": len(runs), "head_run_medians": run_medians(runs)}
        _note_load(info, "head", head)
        if base is None:
            out.new.append(mid)
            message = f"new: not measured on {base_label}"
            VERDICT.put(head, dataclasses.replace(build_verdict(head, [], base_label), message=message))
        else:
            base_medians = run_medians(base_by_id[mid])
            floor = ab_floor(base_medians, info["head_run_medians"], config.settings.floor)
            config = dataclasses.replace(config, settings=dataclasses.replace(config.settings, floor=floor))
            entry = measured_entry(base)
            comparisons = judge_under_load(
                judge(head, entry, config),
                head.extra.get(LOAD_EXTRA_KEY),
                max_foreign_load,
                load_flag,
                "the head's timed rounds",
            )
            _note_load(info, "base", base)
            VERDICT.put(head, build_verdict(head, comparisons, base_label, has_baseline=True))
            info.update({"base_runs": len(base_by_id[mid]), "base_run_medians": base_medians, "floor": floor})
            for c in comparisons:
                if c.verdict in ("regressed", "inconclusive"):
                    unit = head.metrics[c.metric].unit if c.metric in head.metrics else "s"
                    out.lines.append(f"{mid}: {c.verdict}: {format_comparison(c, unit)}")
                    if c.verdict == "regressed" and c.metric in COUNTED_METRICS:
                        out.lines.extend(f"  {line}" for line in _hotspot_diff(head, base))
        head.extra["ab"] = info
        out.head.append(head)
    out.removed = sorted(set(base_by_id) - set(head_by_id))
    return out


COUNTED_METRICS = ("instructions", "estimated_cycles")


def _note_load(info: dict[str, Any], side: str, m: Measurement) -> None:
    """``info['<side>_foreign_share']``: the side's pooled foreign share, when it was read."""
    share = foreign_share(m.extra.get(LOAD_EXTRA_KEY))
    if share is not None:
        info[f"{side}_foreign_share"] = share


def _hotspot_diff(head: Measurement, base: Measurement) -> list[str]:
    """Instruction mode: the callgrind hotspots of the head against the base's, when both have them."""
    from pytest_causal_eval.profiling.callgrind_hotspots import InstructionHotspot, instruction_hotspot_lines

    def spots(m: Measurement) -> list[InstructionHotspot]:
        return [InstructionHotspot.from_dict(h) for h in INSTRUCTION_HOTSPOTS.get(m) or []]

    current = spots(head)
    if not current:
        return []
    known = base.metrics.get("instructions")
    return instruction_hotspot_lines(current, spots(base) or None, known.value if known else None)


def require_replication(
    judgement: ABJudgement,
    mid: str,
    pair_base: Measurement,
    pair_head: Measurement,
    override: Threshold | None = None,
) -> bool:
    """Keep a time regression only if the confirming round's A B pair, judged alone, also shows a
    change beyond the threshold; else downgrade it to inconclusive (never to pass). True if kept."""
    head = next((m for m in judgement.head if m.id == mid), None)
    record = VERDICT.get(head) if head is not None else None
    if head is None or record is None or record.verdict != "regressed":
        return True
    if record.metric != "time":
        return True
    pair = judge_ab([[pair_base]], [[pair_head]], override=override)
    pair_record = VERDICT.get(pair.head[0])
    pair_all = (pair_record.all if pair_record is not None else None) or []
    pair_time = next((c for c in pair_all if c.get("metric") == "time"), None)
    threshold = config_from_record(THRESHOLDS.get(head), override).for_metric("time")
    if pair_time is None or threshold.kind != "relative":
        return True
    change = float(pair_time["change"])
    head.extra["ab"]["replication"] = {"change": change, "replicated": change > threshold.value}
    if change > threshold.value:
        return True
    message = (
        f"{record.message}, but the confirming round alone measured {change:+.1%}: "
        "not replicated (a burst of load on one side?)"
    )
    comparisons = record.all
    if comparisons is not None:
        comparisons = [
            {**c, "verdict": "inconclusive"} if c.get("metric") == "time" else c for c in comparisons
        ]
    VERDICT.put(head, dataclasses.replace(record, verdict="inconclusive", message=message, all=comparisons))
    judgement.lines = [line for line in judgement.lines if not line.startswith(f"{mid}: regressed: ")]
    judgement.lines.append(f"{mid}: inconclusive: {message}")
    return False
