"""Saving sessions record the foreign load they were saved under, and the baseline's center leaves
out a save made under load (a fake clock plants the times, a fake sampler the load)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_causal_eval.baseline.center import session_center
from pytest_causal_eval.baseline.gate import GateConfig, judge
from pytest_causal_eval.baseline.schema import (
    baseline_schema_path,
    entry_from_measurement,
    entry_problem,
    session_floor,
    session_record,
)
from pytest_causal_eval.baseline.store import BaselineStore
from pytest_causal_eval.results import Measurement

from .runargs import ARGS
from .test_gate_e2e import results

MACHINE = {"key": "k", "hard": {"os": "linux"}, "soft": {}}


def measurement(scale: float, n: int = 300) -> Measurement:
    return Measurement(id="t", test_id="t", samples=[scale * (1e-3 + 1e-6 * (i % 7)) for i in range(n)])


def saved_at(scale: float, share: float | None, *earlier: tuple[float, float | None]) -> dict[str, Any]:
    """An entry whose rounds come from a save at ``scale`` ms under foreign load ``share``, after
    ``earlier`` saves (ms, share) of the same code."""
    entry = entry_from_measurement(measurement(scale), "t", "v")
    last = entry["time"]["summary"]["median"]
    entry["time"]["sessions"] = [
        *(session_record(ms * 1e-3, "a", f"t{i}", s) for i, (ms, s) in enumerate(earlier)),
        session_record(last, "a", "now", share),
    ]
    return entry


def test_a_save_under_load_is_left_out_of_the_center_and_the_verdict_says_so() -> None:
    # a quiet save at 1.0 ms, then one at 1.25 ms while neighbours took 60% of the CPUs (stored)
    entry = saved_at(1.25, 0.6, (1.0, 0.05))
    slower = judge(measurement(1.2), entry, GateConfig())[0]  # +20% against the quiet save
    assert slower.verdict == "regressed", slower
    assert slower.baseline_center == pytest.approx(1.0e-3, rel=0.01)
    assert slower.baseline_note == (
        "the one quiet save of 2; 1 saved while other processes used 60% of the CPUs left out"
    )
    # with the rule off every save counts alike: the median of two is their mean
    off = judge(measurement(1.2), entry, GateConfig(max_foreign_load=None))[0]
    assert off.baseline_center == pytest.approx(1.125e-3, rel=0.01) and off.verdict != "regressed"
    assert off.baseline_note == "median of 2 saving sessions"


def test_quiet_saves_are_the_center_and_every_save_under_load_says_the_baseline_may_be_slow() -> None:
    entry = saved_at(1.3, 0.5, (1.0, None), (1.02, 0.1), (1.35, 0.7), (0.98, None))
    center = session_center(entry["time"]["sessions"], 1.3e-3, 0.25)
    assert center is not None and center.sessions == 3 and center.value == pytest.approx(1.0e-3, rel=0.01)
    assert center.note == (
        "median of 3 of 5 saving sessions; 2 saved while other processes used 50%-70% of the CPUs left out"
    )
    everyone = saved_at(1.3, 0.5, (1.2, 0.4))
    found = judge(measurement(1.3), everyone, GateConfig())[0]
    assert found.baseline_note == (
        "median of 2 saving sessions, all saved while other processes used 40%-50% of the CPUs: "
        "it may be slow"
    )
    once = judge(measurement(1.3), saved_at(1.3, 0.5), GateConfig())[0]
    assert once.baseline_center == pytest.approx(1.3e-3, rel=0.01)
    assert once.baseline_note == "measured while other processes used 50% of the CPUs: it may be slow"
    assert session_center(saved_at(1.3, 0.1)["time"]["sessions"], 1.3e-3, 0.25) is None


def test_saves_under_load_teach_the_floor_nothing() -> None:
    steady = [session_record(v * 1e-3, "a", "t", 0.0) for v in (1.0, 1.002, 0.999)]
    busy = [session_record(v * 1e-3, "a", "t", 0.8) for v in (1.3, 1.2)]
    with_busy = session_floor([*steady, *busy])
    without = session_floor([*steady, *busy], 0.25)
    assert with_busy is not None and without is not None
    assert without == session_floor(steady) and without[0] < 0.01 < with_busy[0]


def test_the_share_is_stored_with_the_session_and_old_sessions_without_it_still_load(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    old = entry_from_measurement(measurement(1.0), "t0", "v")
    old["time"]["sessions"] = [{"median": old["time"]["summary"]["median"], "code": "a", "at": "t0"}]
    store.save_entries("k", MACHINE, {"t": old})  # as files written before the share was recorded
    new = entry_from_measurement(measurement(1.1), "t1", "v")
    new["time"]["sessions"] = [session_record(new["time"]["summary"]["median"], "a", "t1", 0.61234)]
    store.save_entries("k", MACHINE, {"t": new})
    loaded = store.load("k")
    assert loaded is not None and not loaded.quarantined
    kept = loaded.measurements["t"]["time"]["sessions"]
    assert [s.get("foreign_share") for s in kept] == [None, 0.6123]
    schema = json.loads(baseline_schema_path().read_text())
    jsonschema.validate(loaded.document, schema)
    for bad in ("lots", 1.5, -0.1, True):
        kept[-1]["foreign_share"] = bad
        assert entry_problem(loaded.measurements["t"]) == (
            f"time.sessions[1].foreign_share is {bad!r}: expected a share from 0 to 1"
        )
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(loaded.document, schema)


def test_a_save_under_load_records_its_share_and_a_quiet_save_is_the_center(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitrepo import git

    git(project.path, "init", "-q")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-qm", "suite")
    plain = ("-k", "plain")
    project.runpytest(*ARGS, "--causal-eval-save", *plain).assert_outcomes(passed=1, deselected=2)
    git(project.path, "add", "baselines")
    git(project.path, "commit", "-qm", "baselines")  # a new commit, not new code
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.25")  # the same code, saved while neighbours took 70%
    monkeypatch.setenv("FAKE_LOAD", "0.7")
    project.runpytest(*ARGS, "--causal-eval-save", *plain).assert_outcomes(passed=1, deselected=2)
    [path] = sorted((project.path / "baselines").glob("*.json"))
    entry = json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]
    assert [s["foreign_share"] for s in entry["time"]["sessions"]] == [0.0, 0.7]
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.2")  # +20% against the quiet save, -4% against the busy one
    monkeypatch.setenv("FAKE_LOAD", "0")
    result = project.runpytest(*ARGS, *plain, "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1, deselected=2)
    verdict = results(project)["test_plain"]["verdict"]
    assert verdict["verdict"] == "regressed"
    note = "the one quiet save of 2; 1 saved while other processes used 70% of the CPUs left out"
    assert verdict["baseline_note"] == note
    assert fnmatch.fnmatchcase(verdict["message"], f"p10 1.1? ms vs baseline 98? us ({note}): +*% *")
    assert 0.17 < verdict["change"] < 0.23


def test_baselines_show_names_the_saves_made_under_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_causal_eval.cli import main

    store = BaselineStore(tmp_path)
    for i, share in enumerate((0.0, 0.7, None, 0.4)):
        entry = entry_from_measurement(measurement(1.0), f"t{i}", "v")
        entry["time"]["sessions"] = [session_record(entry["time"]["summary"]["median"], "a", f"t{i}", share)]
        store.save_entries("k", MACHINE, {"t": entry})
    assert main(["baselines", "show", "k", "--baselines", str(tmp_path)]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith("; 2 of 4 saving session(s) under foreign load (40%-70% of the CPUs)")
    )
