"""Baseline files: schema and migration, bad input, stable text, merging, locking, machine keys."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.baseline.gate import GateConfig, judge, verdict_record
from pytest_causal_eval.baseline.schema import (
    MAX_SAMPLES,
    SCHEMA_VERSION,
    dumps_stable,
    entry_from_measurement,
    even_subsample,
    migrate,
)
from pytest_causal_eval.baseline.store import (
    BaselineFileError,
    BaselineStore,
    MachineMismatchError,
    TooNewError,
    read_baseline,
)
from pytest_causal_eval.environment.fingerprint import (
    Fingerprint,
    fingerprint_from_environment,
    hard_differences,
    soft_differences,
)
from pytest_causal_eval.results import Measurement, Metric, Verdict

MACHINE = {"key": "k", "hard": {"os": "linux"}, "soft": {}}


def measurement(mid: str, n: int = 500, scale: float = 1.0) -> Measurement:
    m = Measurement(id=mid, test_id=mid, samples=[scale * (1e-3 + 1e-6 * (i % 7)) for i in range(n)])
    m.add_metric(Metric("accuracy", 0.8, unit="", better="higher"))
    return m


def test_entry_keeps_bounded_evenly_subsampled_samples() -> None:
    entry = entry_from_measurement(measurement("a", n=1000), "2026-01-01T00:00:00+00:00", "0.1")
    assert len(entry["time"]["samples"]) == MAX_SAMPLES
    assert entry["time"]["rounds"] == 1000
    assert entry["time"]["summary"]["n"] == 1000
    assert even_subsample(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert even_subsample(list(range(3)), 5) == [0, 1, 2]


def test_stable_text_sorted_one_measurement_per_block() -> None:
    doc = {
        "schema_version": 1,
        "tool": "pytest-causal-eval",
        "machine": MACHINE,
        "measurements": {
            "b": entry_from_measurement(measurement("b", n=5), "t", "v"),
            "a": entry_from_measurement(measurement("a", n=5), "t", "v"),
        },
    }
    text = dumps_stable(doc)
    assert json.loads(text) == json.loads(json.dumps(doc))
    assert text.index('"a": {') < text.index('"b": {')
    sample_lines = [line for line in text.splitlines() if '"samples": [' in line]
    assert sample_lines and all(
        line.rstrip().endswith("],") or line.rstrip().endswith("]") for line in sample_lines
    )
    assert dumps_stable(json.loads(text)) == text


def v0_document() -> dict[str, Any]:
    return {
        "version": 0,
        "machine_key": "old-machine",
        "saved": "2025-01-01T00:00:00+00:00",
        "benchmarks": [
            {
                "fullname": "t.py::test_a",
                "stats": {"median": 0.01, "iqr": 0.001, "rounds": 50},
                "data": [0.01, 0.011, 0.009],
            },
            {
                "fullname": "t.py::test_b",
                "stats": {"median": 0.02, "iqr": 0.002, "rounds": 40, "iterations": 2},
                "metrics": {"rss": 5.0},
            },
        ],
    }


def test_v0_to_v1_migration() -> None:
    doc = migrate(v0_document())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["machine"]["key"] == "old-machine"
    a, b = doc["measurements"]["t.py::test_a"], doc["measurements"]["t.py::test_b"]
    assert a["time"]["samples"] == [0.01, 0.011, 0.009]
    assert a["time"]["summary"]["median"] == pytest.approx(0.01)
    assert a["last_seen"] == "2025-01-01T00:00:00+00:00"
    assert b["time"]["samples"] == [] and b["time"]["summary"]["median"] == 0.02 and b["time"]["rounds"] == 40
    assert b["metrics"]["rss"]["value"] == 5.0
    # the migrated summary-only entry still judges a candidate
    cand = Measurement(
        id="t.py::test_b", test_id="t.py::test_b", samples=[0.03 + 1e-5 * (i % 3) for i in range(50)]
    )
    assert judge(cand, b, GateConfig())[0].verdict == "regressed"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ('{"schema_version": 1, "machine": {}, "measurements": {"a": ', "not valid JSON"),
        ('{"schema_version": 99, "machine": {}, "measurements": {}}', "newer"),
        ('{"schema_version": -3, "machine": {}, "measurements": {}}', "unknown schema_version"),
        ('{"hello": 1}', "not a pytest-causal-eval baseline"),
        ("[1, 2]", "JSON object"),
        ('{"schema_version": 1, "machine": [], "measurements": {}}', "'machine' must be an object"),
        ('{"schema_version": 1, "machine": {}, "measurements": []}', "'measurements' must be an object"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_bad_files_name_the_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(text)
    with pytest.raises(BaselineFileError) as info:
        read_baseline(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_an_entry_without_a_median_is_quarantined_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(
        '{"schema_version": 1, "machine": {}, "measurements": {"a": {"time": {"summary": {}}}, "b": {}}}'
    )
    loaded = read_baseline(path)
    assert loaded.quarantined == {
        "a": "time.summary.median is missing: expected a positive number of seconds"
    }
    assert list(loaded.measurements) == ["b"]


def test_save_merges_and_keeps_unrun_entries(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / "baselines")
    first = {m: entry_from_measurement(measurement(m), "2026-01-01T00:00:00+00:00", "v") for m in ("a", "b")}
    store.save_entries("k", MACHINE, first)
    later = {"b": entry_from_measurement(measurement("b", scale=2.0), "2026-02-01T00:00:00+00:00", "v")}
    store.save_entries("k", MACHINE, later)
    loaded = store.load("k")
    assert loaded is not None
    assert sorted(loaded.measurements) == ["a", "b"]
    b = loaded.measurements["b"]
    assert b["first_seen"] == "2026-01-01T00:00:00+00:00"
    assert b["last_seen"] == "2026-02-01T00:00:00+00:00"
    assert b["time"]["summary"]["median"] > 1.9e-3
    assert store.keys() == ["k"]


def test_unreadable_file_is_moved_aside_only_when_saving(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.path_for("k")
    path.write_text("{truncated")
    with pytest.raises(BaselineFileError):
        store.load("k")
    assert path.read_text() == "{truncated"
    moved = store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")}).moved
    assert moved is not None and moved.read_text() == "{truncated"
    assert store.load("k") is not None


def test_interrupted_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BaselineStore(tmp_path)
    store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    before = store.path_for("k").read_text()

    def interrupted(document: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.update("k", MACHINE, interrupted)
    import pytest_causal_eval.baseline.store as store_module

    def boom(path: Path, text: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "write_text_atomic", boom)
    with pytest.raises(KeyboardInterrupt):
        store.save_entries("k", MACHINE, {"b": entry_from_measurement(measurement("b"), "t", "v")})
    assert store.path_for("k").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_newer_schema_is_never_written_nor_moved(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    path = store.path_for("k")
    newer = {"schema_version": 2, "tool_version": "0.9.0", "machine": MACHINE, "measurements": {"x": {}}}
    path.write_text(json.dumps(newer))
    with pytest.raises(TooNewError) as info:
        store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    assert "schema_version 2 (written by pytest-causal-eval 0.9.0) is newer" in str(info.value)
    assert json.loads(path.read_text()) == newer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]
    with pytest.raises(TooNewError):
        store.remove_entries("k", lambda mid, entry: True)
    assert json.loads(path.read_text()) == newer


def test_the_writer_version_is_stored_and_named_when_only_entries_carry_it(tmp_path: Path) -> None:
    from pytest_causal_eval import __version__

    store = BaselineStore(tmp_path)
    store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    doc = json.loads(store.path_for("k").read_text())
    assert doc["tool_version"] == __version__
    del doc["tool_version"]
    doc["schema_version"] = 5
    doc["measurements"]["a"]["tool_version"] = "1.4.2"
    store.path_for("k").write_text(json.dumps(doc))
    with pytest.raises(TooNewError, match=r"schema_version 5 \(written by pytest-causal-eval 1.4.2\)"):
        store.load("k")


def test_saving_into_another_machines_file_is_refused_unless_forced(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    theirs = {"key": "k", "hard": {"os": "linux", "cpu_model": "Other CPU", "python": "CPython-3.12"}}
    store.save_entries("k", theirs, {"x": entry_from_measurement(measurement("x"), "t", "v")})
    before = store.path_for("k").read_text()
    ours = {"key": "k", "hard": {"os": "linux", "cpu_model": "Xeon", "python": "CPython-3.12"}}
    with pytest.raises(MachineMismatchError) as info:
        store.save_entries("k", ours, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    assert info.value.differences == {"cpu_model": ("Other CPU", "Xeon")}
    assert "stored vs this machine: cpu_model: 'Other CPU' vs 'Xeon'" in str(info.value)
    assert store.path_for("k").read_text() == before
    outcome = store.save_entries(
        "k", ours, {"a": entry_from_measurement(measurement("a"), "t", "v")}, force=True
    )
    assert outcome.replaced_machine == {"cpu_model": ("Other CPU", "Xeon")}
    loaded = store.load("k")
    assert loaded is not None and loaded.machine["hard"]["cpu_model"] == "Xeon"
    assert sorted(loaded.measurements) == ["a", "x"]


def test_a_symlinked_baseline_is_written_through(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    store = BaselineStore(tmp_path / "baselines")
    store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    shared.mkdir()
    real = shared / "k.json"
    store.path_for("k").rename(real)
    store.path_for("k").symlink_to(real)
    store.save_entries("k", MACHINE, {"b": entry_from_measurement(measurement("b"), "t", "v")})
    assert store.path_for("k").is_symlink()
    assert sorted(json.loads(real.read_text())["measurements"]) == ["a", "b"]
    assert [p.name for p in shared.iterdir()] == ["k.json"]  # no temporary left beside the target


def test_a_killed_saves_temporaries_are_removed_by_the_next_save(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    stale = tmp_path / ".k.json.x1y2z3_4.tmp"  # what tempfile names a write of k.json
    stale.write_bytes(b"{half a fi")
    unrelated = [
        tmp_path / ".other.json.x1y2z3_4.tmp",
        tmp_path / "k.json.x1y2z3_4.tmp",
        tmp_path / "notes.tmp",
    ]
    for path in unrelated:
        path.write_text("keep me")
    outcome = store.save_entries("k", MACHINE, {"b": entry_from_measurement(measurement("b"), "t", "v")})
    assert outcome.stale_temporaries == [stale] and not stale.exists()
    assert all(p.read_text() == "keep me" for p in unrelated)


def test_saving_leaves_no_lock_file_in_the_baseline_directory(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    (tmp_path / "k.json.lock").write_bytes(b"")  # left by an older version
    store.save_entries("k", MACHINE, {"a": entry_from_measurement(measurement("a"), "t", "v")})
    store.remove_entries("k", lambda mid, entry: mid == "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]


def _save_many(directory: str, prefix: str, count: int) -> None:
    store = BaselineStore(Path(directory))
    for i in range(count):
        mid = f"{prefix}{i}"
        store.save_entries("k", MACHINE, {mid: entry_from_measurement(measurement(mid, n=20), "t", "v")})


def test_concurrent_saves_from_two_processes_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(str(tmp_path), p, 15)) for p in ("x", "y")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    loaded = BaselineStore(tmp_path).load("k")
    assert loaded is not None
    assert len(loaded.measurements) == 30


def test_machine_key_and_differences() -> None:
    env: dict[str, Any] = {
        "python": {"implementation": "CPython", "version": "3.11.7"},
        "platform": {"system": "Linux", "machine": "x86_64"},
        "cpu": {"model": "Xeon", "logical_cores": 8, "frequency_mhz": 2200},
        "packages": {"torch": "2.13.0"},
        "threads": {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": None},
    }
    fp = fingerprint_from_environment(env)
    assert fp.key.startswith("linux-x86_64-py3.11-8c-")
    assert len(fp.key.rsplit("-", 1)[1]) == 8
    assert fingerprint_from_environment(env).key == fp.key
    other = fingerprint_from_environment({**env, "cpu": {**env["cpu"], "frequency_mhz": 3000}})
    assert other.key == fp.key
    assert hard_differences(fp, other) == {}
    assert "frequency_mhz" in soft_differences(fp, other)
    torch2 = fingerprint_from_environment({**env, "packages": {"torch": "2.14.0"}})
    assert torch2.key != fp.key
    assert hard_differences(fp, torch2) == {"torch": ("2.13.0", "2.14.0")}
    gpu = fingerprint_from_environment(
        {**env, "gpu": {"name": "NVIDIA A100", "cuda": "12.4", "cudnn": "9.1"}}
    )
    assert "nvidia-a100" in gpu.key
    assert set(hard_differences(gpu, Fingerprint.from_dict({"hard": {**gpu.hard, "cuda": "12.1"}}))) == {
        "cuda"
    }


def test_verdict_record_shape() -> None:
    base = entry_from_measurement(measurement("a"), "t", "v")
    cand = measurement("a", scale=1.3)
    comparisons = judge(cand, base, GateConfig())
    record = verdict_record(cand, comparisons, "k")
    assert set(record) >= {
        "verdict",
        "metric",
        "change",
        "ci_low",
        "ci_high",
        "threshold",
        "baseline_median",
        "message",
    }
    assert record["verdict"] == "regressed" and record["metric"] == "time"
    assert record["message"].startswith("p10 1.30 ms vs baseline 1.00 ms: +30.0% (95% CI +")
    assert record["statistic"] == "p10"
    assert record["message"].endswith("> 10% threshold")
    assert {c["metric"] for c in record["all"]} == {"time", "accuracy"}
    assert verdict_record(cand, [], None)["verdict"] == "new"


def test_a_memory_change_below_its_absolute_tolerance_passes_whatever_its_ratio() -> None:
    """The gate's memory floor (what ``profiling.tolerance`` gives it): +100% of 100 B is no
    regression, +20% of 100 MB is, and 5% of 100 MB stays under the 10% threshold."""

    def with_peak(value: float, scale: float = 1.0) -> Measurement:
        m = measurement("a", scale=scale)
        m.add_metric(Metric("python_peak", value, unit="B", better="lower"))
        return m

    def verdict(before: float, after: float) -> str:
        base = entry_from_measurement(with_peak(before), "t", "v")
        comparisons = judge(with_peak(after), base, GateConfig())
        return next(c.verdict for c in comparisons if c.metric == "python_peak")

    assert verdict(100.0, 200.0) == "pass"
    assert verdict(100e6, 120e6) == "regressed"
    assert verdict(100e6, 105e6) == "pass"


def test_the_verdict_record_round_trips_through_its_class_unchanged() -> None:
    """``Verdict`` is the one decoder of ``extra['verdict']``: what the gate stores comes back as it
    was, key order included, for a judged, a new and an ungated measurement."""
    base = entry_from_measurement(measurement("a"), "t", "v")
    cand = measurement("a", scale=1.3)
    records = [
        verdict_record(cand, judge(cand, base, GateConfig()), "k"),
        verdict_record(cand, [], None),
        verdict_record(cand, [], "k", has_baseline=True),
    ]
    for record in records:
        decoded = Verdict.from_dict(json.loads(json.dumps(record)))
        assert decoded is not None
        assert list(decoded.to_dict().items()) == list(record.items())
    assert Verdict.from_dict(records[0]).verdict == "regressed"  # type: ignore[union-attr]
    assert Verdict.from_dict(None) is None and Verdict.from_dict("regressed") is None
