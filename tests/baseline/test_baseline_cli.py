"""``causal-eval compare``, ``baselines show|prune`` and ``import-pytest-benchmark``."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.baseline.store import BaselineStore
from pytest_causal_eval.cli import main
from pytest_causal_eval.results import Measurement, Metric, RunResults


def run_file(
    path: Path,
    scale: float = 1.0,
    env: dict[str, Any] | None = None,
    ids: tuple[str, ...] = ("t.py::a", "t.py::b"),
) -> Path:
    measurements = []
    for k, mid in enumerate(ids):
        m = Measurement(
            id=mid,
            test_id=mid,
            samples=[scale * (1e-3 + 1e-6 * ((i * 7 + k) % 11)) for i in range(300)],
        )
        m.add_metric(Metric("accuracy", 0.9, better="higher"))
        m.extra["thresholds"] = {"default": "10%"}
        measurements.append(m)
    environment = env or {
        "python": {"implementation": "CPython", "version": "3.11.7"},
        "platform": {"system": "Linux", "machine": "x86_64"},
        "cpu": {"model": "Xeon", "logical_cores": 2},
        "packages": {"torch": None},
    }
    path.write_text(json.dumps(RunResults(measurements=measurements, environment=environment).to_dict()))
    return path


def test_compare_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = run_file(tmp_path / "a.json")
    same = run_file(tmp_path / "same.json", scale=1.01)
    slow = run_file(tmp_path / "slow.json", scale=1.25)
    assert main(["compare", str(a), str(same)]) == 0
    assert "verdicts: 2 pass" in capsys.readouterr().out
    md = tmp_path / "out.md"
    assert main(["compare", str(a), str(slow), "--markdown", str(md)]) == 1
    out = capsys.readouterr().out
    assert "verdicts: 2 regressed" in out
    assert "t.py::a: regressed: median 1.26 ms vs baseline 1.01 ms: +25.0% (95% CI" in out
    assert "regressed" in md.read_text()
    assert main(["compare", str(a), str(slow), "--threshold", "30%"]) == 0


def test_compare_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = run_file(tmp_path / "a.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["compare", str(a), str(broken)]) == 2
    assert f"results file {broken} is not valid JSON" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "missing.json")]) == 2
    other = run_file(
        tmp_path / "other.json",
        env={
            "python": {"implementation": "CPython", "version": "3.12.1"},
            "platform": {"system": "Linux", "machine": "x86_64"},
            "cpu": {"model": "Xeon", "logical_cores": 2},
        },
    )
    assert main(["compare", str(a), str(other)]) == 2
    assert "different machines (python: 'CPython-3.11' vs 'CPython-3.12')" in capsys.readouterr().err
    assert main(["compare", str(a), str(other), "--allow-different-machines"]) == 0
    assert main(["compare", str(a), str(a), "--threshold", "2pts"]) == 2


def test_baselines_show_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_causal_eval.baseline.schema import entry_from_measurement

    store = BaselineStore(tmp_path / "b")
    old = (_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=40)).isoformat(timespec="seconds")
    new = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entries = {}
    for mid, seen in (("t.py::a", old), ("t.py::b", new), ("t.py::c", new)):
        entries[mid] = entry_from_measurement(Measurement(id=mid, test_id=mid, samples=[1e-3] * 5), seen, "v")
    store.save_entries("m1", {"key": "m1", "hard": {"os": "linux"}}, entries)
    assert main(["baselines", "show", "--dir", str(store.directory)]) == 0
    assert "m1: 3 measurement(s)" in capsys.readouterr().out
    assert main(["baselines", "show", "m1", "--dir", str(store.directory)]) == 0
    assert "t.py::a: median 1.00 ms, 5 rounds, 5 samples kept" in capsys.readouterr().out
    assert main(["baselines", "prune", "--dir", str(store.directory), "--older-than", "30", "--dry-run"]) == 0
    assert "would remove m1: t.py::a" in capsys.readouterr().out
    assert len(store.load("m1").measurements) == 3  # type: ignore[union-attr]
    assert main(["baselines", "prune", "--dir", str(store.directory), "--older-than", "30"]) == 0
    assert sorted(store.load("m1").measurements) == ["t.py::b", "t.py::c"]  # type: ignore[union-attr]
    results = run_file(tmp_path / "r.json", ids=("t.py::b",))
    assert main(["baselines", "prune", "--dir", str(store.directory), "--not-in", str(results)]) == 0
    assert sorted(store.load("m1").measurements) == ["t.py::b"]  # type: ignore[union-attr]
    assert main(["baselines", "prune", "--dir", str(store.directory)]) == 2
    assert main(["baselines", "show", "nope", "--dir", str(store.directory)]) == 2
    store.path_for("m2").write_text("[")
    assert main(["baselines", "show", "--dir", str(store.directory)]) == 2
    assert "m2: error: is not valid JSON" in capsys.readouterr().out


def test_import_a_real_pytest_benchmark_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(
        test_pb="""
        def test_sum(benchmark):
            benchmark.pedantic(sum, args=(range(100),), rounds=20, iterations=5)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--benchmark-autosave", "--benchmark-save-data"
    )
    result.assert_outcomes(passed=1)
    files = list((pytester.path / ".benchmarks").rglob("*.json"))
    assert len(files) == 1
    monkeypatch.chdir(pytester.path)
    assert main(["import-pytest-benchmark", ".benchmarks"]) == 0
    assert "imported 1 benchmark(s) from 1 file(s)" in capsys.readouterr().out
    [baseline] = BaselineStore(pytester.path / "baselines").files()
    entry = json.loads(baseline.read_text())["measurements"]["test_pb.py::test_sum"]
    assert len(entry["time"]["samples"]) == 20
    # the imported baseline gates a causal-eval run of the same test name on this machine
    pytester.makepyfile(
        test_pb="""
        def test_sum(causal_bench):
            causal_bench(sum, range(100))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--causal-eval", "--causal-eval-max-time", "50ms")
    result.stdout.fnmatch_lines(
        ["*causal-eval baseline: *baselines*(1 measurements, threshold 10%)*", "*verdicts: 1 *"]
    )


def test_import_refuses_another_machine_and_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {
        "machine_info": {
            "machine": "riscv64",
            "system": "Linux",
            "python_implementation": "CPython",
            "python_version": "3.11.7",
        },
        "datetime": "2026-01-01T00:00:00+00:00",
        "benchmarks": [
            {"fullname": "t.py::x", "stats": {"median": 0.001, "iqr": 1e-5, "rounds": 9, "iterations": 1}}
        ],
    }
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(doc))
    assert main(["import-pytest-benchmark", str(path), "--dir", str(tmp_path / "b")]) == 2
    assert "recorded on another machine (arch: 'x86_64' vs 'riscv64')" in capsys.readouterr().err
    assert (
        main(["import-pytest-benchmark", str(path), "--dir", str(tmp_path / "b"), "--machine", "riscv-box"])
        == 0
    )
    stored = json.loads((tmp_path / "b" / "riscv-box.json").read_text())
    assert stored["measurements"]["t.py::x"]["time"]["summary"]["median"] == 0.001
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 1}')
    assert main(["import-pytest-benchmark", str(bad)]) == 2
    assert "not a pytest-benchmark file" in capsys.readouterr().err
