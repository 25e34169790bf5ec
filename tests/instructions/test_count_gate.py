"""The gate on deterministic counts: planted counts in, verdicts and messages out (pure)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.baseline.gate import GateConfig, format_comparison, judge, verdict_record
from pytest_causal_eval.baseline.schema import carry_over_other_mode, entry_from_measurement
from pytest_causal_eval.results import Measurement, Metric
from pytest_causal_eval.stats.counts import COUNT_FLOOR, compare_counts
from pytest_causal_eval.stats.thresholds import Threshold, parse_threshold

TEN = Threshold("relative", 0.10)


def counted(mid: str, instructions: float, cycles: float | None = None) -> Measurement:
    m = Measurement(id=mid, test_id=mid)
    m.add_metric(Metric("instructions", instructions, unit="instructions", better="lower"))
    if cycles is not None:
        m.add_metric(Metric("estimated_cycles", cycles, unit="cycles", better="lower"))
    return m


def timed(mid: str, median: float) -> Measurement:
    m = Measurement(id=mid, test_id=mid, samples=[median * (1 + 0.001 * (i % 5)) for i in range(50)])
    m.add_metric(Metric("rss_growth", 1e6, unit="B", better="lower"))
    return m


def entry(m: Measurement) -> dict[str, Any]:
    return entry_from_measurement(m, "2026-01-01T00:00:00+00:00", "0.1")


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        (0.0, "pass"),
        (0.0005, "pass"),  # 0.05%: a pass, never inconclusive
        (-0.0005, "pass"),
        (0.05, "pass"),
        (0.08, "pass"),
        (0.0999, "pass"),
        (0.1001, "regressed"),
        (0.12, "regressed"),
        (1.0, "regressed"),
        (-0.0999, "pass"),
        (-0.12, "improved"),
    ],
)
def test_a_count_is_judged_against_the_threshold_without_inconclusive(change: float, verdict: str) -> None:
    c = compare_counts(
        1_710_000, 1_710_000 * (1 + change), metric="instructions", better="lower", threshold=TEN
    )
    assert c.verdict == verdict
    assert c.change == pytest.approx(change)
    assert c.ci_low == c.ci_high == c.change  # a count has no interval
    assert "deterministic count" in c.method


def test_the_floor_keeps_a_tiny_threshold_from_failing_on_the_counts_own_spread() -> None:
    tiny = parse_threshold("0.01%")
    inside = compare_counts(
        1e6, 1e6 * (1 + COUNT_FLOOR * 0.9), metric="instructions", better="lower", threshold=tiny
    )
    beyond = compare_counts(
        1e6, 1e6 * (1 + COUNT_FLOOR * 1.5), metric="instructions", better="lower", threshold=tiny
    )
    assert inside.verdict == "pass"
    assert beyond.verdict == "regressed"


def test_the_regression_message_reads_like_the_time_one() -> None:
    c = compare_counts(1_710_000, 1_920_330, metric="instructions", better="lower", threshold=TEN)
    assert (
        format_comparison(c, "instructions")
        == "instructions 1.92M vs baseline 1.71M per call: +12.3% > 10% threshold"
    )
    ok = compare_counts(1_710_000, 1_710_500, metric="instructions", better="lower", threshold=TEN)
    assert format_comparison(ok, "instructions") == (
        "instructions 1.71M vs baseline 1.71M per call: +0.0% within the 10% threshold"
    )


def test_judge_uses_the_count_rule_for_instructions_and_estimated_cycles() -> None:
    base = entry(counted("t", 2_000_000, cycles=3_000_000))
    now = counted("t", 2_001_000, cycles=3_600_000)  # +0.05% instructions, +20% cycles
    comparisons = {c.metric: c for c in judge(now, base, GateConfig())}
    assert set(comparisons) == {"instructions", "estimated_cycles"}
    assert comparisons["instructions"].verdict == "pass"
    assert comparisons["estimated_cycles"].verdict == "regressed"
    record = verdict_record(now, list(comparisons.values()), "key", has_baseline=True)
    assert record["verdict"] == "regressed"
    assert record["message"] == "estimated_cycles 3.60M vs baseline 3.00M per call: +20.0% > 10% threshold"


def test_a_count_is_not_judged_against_a_time_only_baseline_nor_time_against_counts() -> None:
    time_entry = entry(timed("t", 1e-3))
    assert judge(counted("t", 2e6), time_entry, GateConfig()) == []
    count_entry = entry(counted("t", 2e6))
    assert judge(timed("t", 1e-3), count_entry, GateConfig()) == []


def test_saving_in_one_mode_keeps_the_other_modes_figures() -> None:
    time_entry = entry(timed("t", 1e-3))
    count_entry = entry(counted("t", 2e6))
    merged = carry_over_other_mode(time_entry, dict(count_entry))
    assert merged["time"] == time_entry["time"]
    assert set(merged["metrics"]) == {"instructions", "rss_growth"}
    again = carry_over_other_mode(merged, dict(entry(timed("t", 2e-3))))
    assert again["time"]["summary"]["median"] > time_entry["time"]["summary"]["median"]
    assert again["metrics"]["instructions"] == count_entry["metrics"]["instructions"]
    # a metric the saving mode measured again replaces the stored one
    newer = carry_over_other_mode(merged, dict(entry(counted("t", 3e6))))
    assert newer["metrics"]["instructions"]["value"] == 3e6
    assert newer["time"] == time_entry["time"]


def test_the_thread_pools_the_launcher_pins_do_not_change_the_machine_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pytest_causal_eval.environment.fingerprint import fingerprint_from_environment, live_environment
    from pytest_causal_eval.measure.valgrind_launch import (
        FIXED_MALLOC_THRESHOLDS,
        PINNED_POOLS,
        CallgrindLaunch,
    )

    for name in PINNED_POOLS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # the user's own setting is kept and keyed
    user_key = fingerprint_from_environment(live_environment()).key
    launch = CallgrindLaunch(valgrind="valgrind", interpreter="python", out_dir=tmp_path)
    rerun_env = launch.environment(dict(os.environ))
    assert rerun_env["OPENBLAS_NUM_THREADS"] == "1" and rerun_env["OMP_NUM_THREADS"] == "4"
    assert rerun_env["GLIBC_TUNABLES"] == FIXED_MALLOC_THRESHOLDS  # fixed, not moved by history
    assert launch.environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"})["GLIBC_TUNABLES"] == (
        "glibc.malloc.arena_max=1"
    )
    for name, value in rerun_env.items():
        monkeypatch.setenv(name, value)
    assert fingerprint_from_environment(live_environment()).key == user_key
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert fingerprint_from_environment(live_environment()).key != user_key
