"""Saving sessions in the baseline: kept across saves, and the floor they teach the gate."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.baseline.center import session_center
from pytest_causal_eval.baseline.gate import GateConfig, judge, verdict_record
from pytest_causal_eval.baseline.schema import (
    MAX_SESSIONS,
    block_session,
    entry_from_measurement,
    merge_sessions,
    session_floor,
    session_record,
)
from pytest_causal_eval.baseline.store import BaselineStore
from pytest_causal_eval.results import Measurement

MACHINE = {"key": "k", "hard": {"os": "linux"}, "soft": {}}


def sessions(*pairs: tuple[float, str]) -> list[dict[str, Any]]:
    return [session_record(median, code, f"t{i}") for i, (median, code) in enumerate(pairs)]


def test_the_floor_comes_only_from_sessions_of_the_same_commit() -> None:
    # commit a: 1.0, 1.1, 0.9 (2 degrees of freedom); b measured once and c dirty: not paired
    found = session_floor(sessions((1.0, "a"), (1.1, "a"), (0.9, "a"), (5.0, "b"), (7.0, ""), (9.0, "")))
    assert found is not None
    floor, df, used = found
    logs = [math.log(v) for v in (1.0, 1.1, 0.9)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    assert floor == pytest.approx(sd * math.sqrt(2)) and df == 2 and used == 3


def test_two_commits_twice_each_pool_their_spread() -> None:
    found = session_floor(sessions((1.0, "a"), (1.05, "a"), (2.0, "b"), (2.1, "b")))
    assert found is not None and found[1:] == (2, 4)
    # a real speed-up between commits (1.0 -> 2.0) is not noise: the floor stays near 5% / sqrt 2 * sqrt 2
    assert found[0] == pytest.approx(math.log(1.05) / math.sqrt(2) * math.sqrt(2), rel=0.01)


@pytest.mark.parametrize(
    "pairs",
    [(), ((1.0, "a"),), ((1.0, "a"), (1.2, "a")), ((1.0, "a"), (1.2, "b"), (1.3, "c"))],
)
def test_too_few_degrees_of_freedom_learn_nothing(pairs: tuple[tuple[float, str], ...]) -> None:
    assert session_floor(sessions(*pairs)) is None


def test_merge_keeps_the_last_sessions_and_drops_garbage() -> None:
    old = [*sessions(*[(1.0 + i / 100, "a") for i in range(MAX_SESSIONS)]), {"median": "x"}, 7]
    merged = merge_sessions(old, sessions((2.0, "b")))
    assert len(merged) == MAX_SESSIONS and merged[-1]["median"] == 2.0 and merged[0]["median"] == 1.01
    assert merge_sessions(None, sessions((1.0, "a"))) == sessions((1.0, "a"))


def measurement(scale: float, n: int = 300) -> Measurement:
    return Measurement(id="t", test_id="t", samples=[scale * (1e-3 + 1e-6 * (i % 7)) for i in range(n)])


def test_saving_again_keeps_the_sessions_of_the_old_entry(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    for i, code in enumerate(("a", "a", "b")):
        entry = entry_from_measurement(measurement(1.0 + i / 10), f"t{i}", "v")
        entry["time"]["sessions"] = [session_record(entry["time"]["summary"]["median"], code, f"t{i}")]
        store.save_entries("k", MACHINE, {"t": entry})
    loaded = store.load("k")
    assert loaded is not None
    time_block = loaded.measurements["t"]["time"]
    assert [s["code"] for s in time_block["sessions"]] == ["a", "a", "b"]
    assert time_block["summary"]["median"] == pytest.approx(1.2e-3, rel=0.01)  # samples: the last save


def test_a_drifting_baseline_widens_the_interval_and_says_why() -> None:
    entry = entry_from_measurement(measurement(1.0), "t", "v")
    candidate = measurement(1.2)  # +20%
    steady = judge(candidate, entry, GateConfig())[0]
    assert steady.verdict == "regressed" and "2% reproducibility floor" in steady.method
    entry["time"]["sessions"] = sessions((1.0, "a"), (1.15, "a"), (0.88, "a"))  # same code, +-13%
    drifting = judge(candidate, entry, GateConfig())[0]
    assert drifting.verdict == "inconclusive"
    assert drifting.ci_low < 0 < 0.2 < drifting.ci_high
    assert "learned from 3 saving sessions of the same code" in drifting.method
    entry["time"]["sessions"] = sessions((1.0, "a"), (1.002, "a"), (0.999, "a"))  # steadier than 2%
    assert judge(candidate, entry, GateConfig())[0].method == steady.method  # never narrowed


def saved_at(scale: float, *earlier: tuple[float, str], code: str = "a") -> dict[str, Any]:
    """An entry whose rounds come from a save at ``scale`` ms on ``code``, after ``earlier`` saves."""
    entry = entry_from_measurement(measurement(scale), "t", "v")
    last = entry["time"]["summary"]["median"]
    entry["time"]["sessions"] = [
        *sessions(*((m * 1e-3, c) for m, c in earlier)),
        session_record(last, code, "now"),
    ]
    return entry


def test_one_lucky_save_does_not_decide_the_verdict() -> None:
    # six saves of one code at about 1.0 ms, then a lucky one (10% fast): its rounds are stored
    entry = saved_at(0.9, (1.0, "a"), (1.01, "a"), (0.99, "a"), (1.0, "a"), (1.0, "a"), (1.01, "a"))
    unchanged = judge(measurement(1.0), entry, GateConfig())[0]
    assert unchanged.verdict == "pass", unchanged
    assert unchanged.baseline_center == pytest.approx(1.0e-3 + 3e-6, rel=0.01)  # the median of seven
    assert unchanged.baseline_note == "median of 7 saving sessions"
    record = verdict_record(measurement(1.0), [unchanged], "k")
    assert "vs baseline 1.00 ms (median of 7 saving sessions): " in record["message"]


def test_one_unlucky_save_does_not_hide_a_regression() -> None:
    entry = saved_at(1.15, (1.0, "a"), (1.0, "a"), (1.01, "a"))  # the last save was 15% slow
    slower = judge(measurement(1.3), entry, GateConfig())[0]  # +30% against the usual 1.0 ms
    assert slower.verdict == "regressed" and slower.change == pytest.approx(0.3, abs=0.01)
    assert slower.baseline_note == "median of 4 saving sessions"


@pytest.mark.parametrize(
    ("earlier", "code"),
    [
        (((1.0, "a"), (1.0, "a")), "b"),  # other code: a real change between saves is not noise
        (((1.0, ""), (1.0, "")), ""),  # a dirty tree's code has no name
        ((), "a"),  # saved once
    ],
)
def test_sessions_of_other_code_or_none_leave_the_last_save_as_the_center(
    earlier: tuple[tuple[float, str], ...], code: str
) -> None:
    entry = saved_at(0.9, *earlier, code=code)
    found = judge(measurement(0.9), entry, GateConfig())[0]
    assert found.baseline_center == pytest.approx(0.9e-3, rel=0.01) and found.baseline_note == ""
    assert session_center(entry["time"]["sessions"], 0.9e-3) is None


def test_sessions_that_do_not_describe_the_stored_rounds_are_not_used() -> None:
    planted = sessions((1.0, "a"), (1.0, "a"), (1.0, "a"))  # seconds, while the rounds are in ms
    assert session_center(planted, 1.0e-3) is None
    center = session_center(sessions((2.0, "a"), (1.0, "b"), (3.0, "a"), (1.0, "a")), 1.0)
    assert center is not None and (center.value, center.sessions) == (2.0, 3)


def spelled(share: float, n: int = 300) -> Measurement:
    """Rounds of 1 ms where a spell 1.5x slower covers ``share`` of every 50 (a shared machine)."""
    quiet = measurement(1.0, n).samples
    return Measurement(
        id="t", test_id="t", samples=[v * 1.5 if i % 50 < 50 * share else v for i, v in enumerate(quiet)]
    )


def test_sessions_center_the_p10_on_their_p10s() -> None:
    """Two saves of one code: a quiet one, then one with a spell over 60% of its rounds (its median
    reads 1.5 ms, its p10 1.0 ms). Centered on their medians (1.25 ms) the stored p10 would move to
    0.83 ms and unchanged code would read +20%; centered on their p10s it stays put."""
    quiet = entry_from_measurement(measurement(1.0), "t", "v")
    entry = entry_from_measurement(spelled(0.6), "t", "v")
    entry["time"]["sessions"] = [
        block_session(quiet["time"], "a", "t0", None),
        block_session(entry["time"], "a", "t1", None),
    ]
    assert entry["time"]["sessions"][-1]["median"] > 1.4e-3 > 1.01e-3 > entry["time"]["sessions"][-1]["p10"]
    unchanged = judge(measurement(1.0), entry, GateConfig())[0]
    assert unchanged.verdict == "pass", unchanged
    assert unchanged.statistic == "p10" and unchanged.baseline_note == "median of 2 saving sessions"
    assert abs(unchanged.change) < 0.01


def test_older_sessions_with_medians_only_center_and_compare_the_median() -> None:
    entry = saved_at(0.9, (1.0, "a"), (1.0, "a"))  # sessions without a p10 (saved by older versions)
    found = judge(measurement(1.0), entry, GateConfig())[0]
    assert (found.statistic, found.baseline_note) == ("median", "median of 3 saving sessions")
    assert found.baseline_center == pytest.approx(1.0e-3 + 3e-6, rel=0.01)


def test_a_handful_of_rounds_is_compared_at_the_median() -> None:
    entry = entry_from_measurement(measurement(1.0, n=10), "t", "v")
    few = judge(measurement(1.3, n=10), entry, GateConfig())[0]
    assert few.statistic == "median" and few.verdict == "regressed"
    many = judge(measurement(1.3), entry_from_measurement(measurement(1.0), "t", "v"), GateConfig())[0]
    assert many.statistic == "p10" and many.verdict == "regressed"
