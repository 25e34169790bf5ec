"""``causal-eval compare``, ``baselines show|prune`` and ``import-pytest-benchmark``."""

from __future__ import annotations

import datetime as _dt
import json
import platform
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
    key: str | None = None,
    shard: tuple[int, int] | None = None,
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
    extra: dict[str, Any] = {}
    if key is not None:  # what the plugin records: the key it compared and saved under
        extra["machine"] = {"key": key, "hard": {"os": "linux"}, "soft": {}}
    if shard is not None:
        extra["shard"] = {"index": shard[0], "total": shard[1], "method": "hash"}
    results = RunResults(measurements=measurements, environment=environment, extra=extra)
    path.write_text(json.dumps(results.to_dict()))
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
    assert (
        "t.py::a: regressed: p10 1.2" in out and "t.py::b: regressed: p10 1.25 ms vs baseline 1.00 ms" in out
    )
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
    assert main(["baselines", "show", "--baselines", str(store.directory)]) == 0
    assert "m1: 3 measurement(s)" in capsys.readouterr().out
    assert main(["baselines", "show", "m1", "--baselines", str(store.directory)]) == 0
    assert "t.py::a: median 1.00 ms, 5 rounds, 5 samples kept" in capsys.readouterr().out
    assert (
        main(["baselines", "prune", "--baselines", str(store.directory), "--older-than", "30", "--dry-run"])
        == 0
    )
    assert "would remove m1: t.py::a" in capsys.readouterr().out
    assert len(store.load("m1").measurements) == 3  # type: ignore[union-attr]
    assert main(["baselines", "prune", "--baselines", str(store.directory), "--older-than", "30"]) == 0
    assert sorted(store.load("m1").measurements) == ["t.py::b", "t.py::c"]  # type: ignore[union-attr]
    results = run_file(tmp_path / "r.json", ids=("t.py::b",), key="m1")
    assert main(["baselines", "prune", "--baselines", str(store.directory), "--not-in", str(results)]) == 0
    assert sorted(store.load("m1").measurements) == ["t.py::b"]  # type: ignore[union-attr]
    assert main(["baselines", "prune", "--baselines", str(store.directory)]) == 2
    assert main(["baselines", "show", "nope", "--baselines", str(store.directory)]) == 2
    store.path_for("m2").write_text("[")
    assert main(["baselines", "show", "--baselines", str(store.directory)]) == 2
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
    # under pytest -n N this test runs in an xdist worker whose PYTEST_XDIST_* variables the
    # child pytest inherits: pytest-benchmark then takes itself for a worker and saves nothing
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
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
        "machine_info": {  # this interpreter, on another architecture
            "machine": "riscv64",
            "system": platform.system(),
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
        },
        "datetime": "2026-01-01T00:00:00+00:00",
        "benchmarks": [
            {"fullname": "t.py::x", "stats": {"median": 0.001, "iqr": 1e-5, "rounds": 9, "iterations": 1}}
        ],
    }
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(doc))
    assert main(["import-pytest-benchmark", str(path), "--baselines", str(tmp_path / "b")]) == 2
    assert (
        f"recorded on another machine (arch: '{platform.machine()}' vs 'riscv64')" in capsys.readouterr().err
    )
    assert (
        main(
            [
                "import-pytest-benchmark",
                str(path),
                "--baselines",
                str(tmp_path / "b"),
                "--machine",
                "riscv-box",
            ]
        )
        == 0
    )
    stored = json.loads((tmp_path / "b" / "riscv-box.json").read_text())
    assert stored["measurements"]["t.py::x"]["time"]["summary"]["median"] == 0.001
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 1}')
    assert main(["import-pytest-benchmark", str(bad)]) == 2
    assert "not a pytest-benchmark file" in capsys.readouterr().err


def two_machine_store(tmp_path: Path) -> BaselineStore:
    """Baselines of this machine (m1: a, b, c) and of another (m2: a, z), all seen today."""
    from pytest_causal_eval.baseline.schema import entry_from_measurement

    store = BaselineStore(tmp_path / "b")
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def entries(*ids: str) -> dict[str, Any]:
        return {
            mid: entry_from_measurement(Measurement(id=mid, test_id=mid, samples=[1e-3] * 5), now, "v")
            for mid in ids
        }

    store.save_entries("m1", {"key": "m1", "hard": {"os": "linux"}}, entries("t.py::a", "t.py::b", "t.py::c"))
    store.save_entries("m2", {"key": "m2", "hard": {"os": "darwin"}}, entries("t.py::a", "t.py::z"))
    return store


def ids_of(store: BaselineStore, key: str) -> list[str]:
    loaded = store.load(key)
    assert loaded is not None
    return sorted(loaded.measurements)


def test_prune_not_in_touches_only_the_results_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = two_machine_store(tmp_path)
    results = run_file(tmp_path / "r.json", ids=("t.py::a", "t.py::b"), key="m1")
    prune = ["baselines", "prune", "--baselines", str(store.directory), "--not-in", str(results)]
    assert main([*prune, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would remove m1: t.py::c",
        "1 stale measurement(s) found",
    ]
    assert ids_of(store, "m1") == ["t.py::a", "t.py::b", "t.py::c"]
    assert main(prune) == 0
    assert ids_of(store, "m1") == ["t.py::a", "t.py::b"]
    assert ids_of(store, "m2") == ["t.py::a", "t.py::z"]  # another machine's baseline is untouched
    # --machine naming another key than the results' is refused, unless forced
    assert main([*prune, "--machine", "m2"]) == 2
    assert "the --not-in results were measured on m1" in capsys.readouterr().err
    assert ids_of(store, "m2") == ["t.py::a", "t.py::z"]
    assert main([*prune, "--machine", "m2", "--force"]) == 0
    assert ids_of(store, "m2") == ["t.py::a"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: [p / "e.json"],
            "hold(s) none of the 3 measurement(s) in",
        ),
        (
            lambda p: [run_file(p / "s1.json", ids=("t.py::a",), key="m1", shard=(1, 3))],
            "only some shards of a sharded run (missing 2/3, 3/3)",
        ),
        (
            lambda p: [
                run_file(p / "s1.json", ids=("t.py::a",), key="m1", shard=(1, 3)),
                run_file(p / "s3.json", ids=("t.py::b",), key="m1", shard=(3, 3)),
            ],
            "(missing 2/3)",
        ),
    ],
    ids=["empty run", "one shard", "two shards of three"],
)
def test_prune_not_in_refuses_results_that_cannot_tell_what_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    store = two_machine_store(tmp_path)
    (tmp_path / "e.json").write_text(
        json.dumps({"schema_version": 1, "measurements": [], "extra": {"machine": {"key": "m1", "hard": {}}}})
    )
    files = [str(f) for f in make(tmp_path)]
    prune = ["baselines", "prune", "--baselines", str(store.directory)] + [
        a for f in files for a in ("--not-in", f)
    ]
    before = {k: store.path_for(k).read_text() for k in ("m1", "m2")}
    assert main(prune) == 2
    err = capsys.readouterr().err
    assert "refusing to prune with --not-in" in err and message in err and "--force" in err
    assert {k: store.path_for(k).read_text() for k in ("m1", "m2")} == before
    assert main([*prune, "--force"]) == 0
    assert ids_of(store, "m2") == ["t.py::a", "t.py::z"]


def test_prune_not_in_an_empty_results_file_of_no_machine_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: an empty results file removed every entry of every machine."""
    store = two_machine_store(tmp_path)
    (tmp_path / "e.json").write_text('{"schema_version":1,"measurements":[]}')
    monkeypatch.chdir(tmp_path)
    assert main(["baselines", "prune", "--baselines", "b", "--not-in", "e.json"]) == 2
    assert "e.json: the results do not say which machine they were measured on" in capsys.readouterr().err
    # a results file of a machine without a baseline here prunes nothing
    other = run_file(tmp_path / "o.json", key="m3")
    assert main(["baselines", "prune", "--baselines", "b", "--not-in", str(other)]) == 2
    assert f"no baseline in b for machine key m3, the one {other} was measured on" in capsys.readouterr().err
    assert ids_of(store, "m1") == ["t.py::a", "t.py::b", "t.py::c"]
    assert ids_of(store, "m2") == ["t.py::a", "t.py::z"]


def test_prune_invalid_and_show_name_quarantined_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = two_machine_store(tmp_path)
    doc = json.loads(store.path_for("m1").read_text())
    doc["measurements"]["t.py::b"]["time"]["summary"]["median"] = "fast"
    store.path_for("m1").write_text(json.dumps(doc))
    assert main(["baselines", "show", "m1", "--baselines", str(store.directory)]) == 2
    out = capsys.readouterr().out
    assert "m1: 2 measurement(s), last saved" in out and "1 holding a bad number" in out
    assert "t.py::b: bad entry: time.summary.median is 'fast': expected a positive number of seconds" in out
    assert main(["baselines", "prune", "--baselines", str(store.directory), "--invalid"]) == 0
    assert "removed m1: t.py::b" in capsys.readouterr().out
    assert ids_of(store, "m1") == ["t.py::a", "t.py::c"]


def test_prune_on_a_directory_that_cannot_be_written(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    store = two_machine_store(tmp_path)
    before = store.path_for("m1").read_text()
    command = [
        sys.executable,
        "-m",
        "pytest_causal_eval.cli",
        "baselines",
        "prune",
        "--baselines",
        str(store.directory),
    ]
    command += ["--older-than", "0"]
    if os.geteuid() == 0:  # root writes anywhere: a file-size limit of 0 makes every write fail instead
        import resource

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

        proc = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit, check=False)
    else:
        store.directory.chmod(0o555)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            store.directory.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"causal-eval: error: cannot write {store.path_for('m1')}: ")
    assert "nothing was removed from it" in proc.stderr and "Traceback" not in proc.stderr
    assert store.path_for("m1").read_text() == before
    assert [p.name for p in store.directory.iterdir() if p.name.startswith(".")] == []


def test_import_refuses_a_benchmark_without_a_numeric_median_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def bench(name: str, **stats: Any) -> dict[str, Any]:
        return {"fullname": f"t.py::{name}", "stats": {"iqr": 1e-5, "rounds": 9, "iterations": 1, **stats}}

    doc = {
        "machine_info": {
            "machine": platform.machine(),
            "system": platform.system(),
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
        },
        "datetime": "2026-01-01T00:00:00+00:00",
        "benchmarks": [
            bench("good", median=0.001),
            bench("words", median="fast"),
            bench("none", median=None),
            bench("zero", median=0),
            bench("nan", median=float("nan")),
            bench("flag", median=True),
            bench("data", median=0.001, data=[0.001, -0.002, 0.001]),
            {"stats": {"median": 0.001}},
        ],
    }
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(doc))
    directory = tmp_path / "b"
    assert (
        main(["import-pytest-benchmark", str(path), "--baselines", str(directory), "--machine", "box"]) == 2
    )
    err = capsys.readouterr().err
    for expected in (
        "benchmarks[1]: t.py::words: stats.median is 'fast': expected a positive number of seconds",
        "benchmarks[2]: t.py::none: stats.median is None",
        "benchmarks[3]: t.py::zero: stats.median is 0",
        "benchmarks[4]: t.py::nan: stats.median is nan",
        "benchmarks[5]: t.py::flag: stats.median is True",
        "benchmarks[6]: t.py::data: stats.data[1] is -0.002",
        "benchmarks[7]: fullname is None",
    ):
        assert f"causal-eval: error: {path}: {expected}" in err, err
    loaded = BaselineStore(directory).load("box")
    assert loaded is not None and loaded.quarantined == {}
    assert sorted(loaded.measurements) == ["t.py::good"]


def test_import_into_another_machines_file_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {
        "machine_info": {"machine": "riscv64", "system": "Linux", "python_version": "3.11.7"},
        "benchmarks": [{"fullname": "t.py::x", "stats": {"median": 0.001}}],
    }
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(doc))
    store = BaselineStore(tmp_path / "b")
    store.save_entries("box", {"key": "box", "hard": {"arch": "x86_64"}}, {})
    args = ["import-pytest-benchmark", str(path), "--baselines", str(store.directory), "--machine", "box"]
    assert main(args) == 2
    assert "holds the baseline of another machine (stored vs this machine: arch: 'x86_64' vs 'riscv64')" in (
        capsys.readouterr().err
    )
    assert main([*args, "--force"]) == 0
    assert ids_of(store, "box") == ["t.py::x"]


def test_compare_refuses_duplicate_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = run_file(tmp_path / "a.json")
    doc = json.loads(a.read_text())
    doc["measurements"].append(doc["measurements"][0])
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps(doc))
    assert main(["compare", str(a), str(dup)]) == 2
    assert f"results file {dup}: measurement id 't.py::a' appears more than once" in capsys.readouterr().err
    assert main(["compare", str(dup), str(a)]) == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1e-3, 0.0, True, 1e-320])
def test_compare_never_judges_a_bad_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: Any
) -> None:
    a = run_file(tmp_path / "a.json")
    slow = run_file(tmp_path / "slow.json", scale=1.25)
    for path in (a, slow):
        doc = json.loads(path.read_text())
        doc["measurements"][0]["samples"] = [bad] * 300
        (path.parent / f"bad-{path.name}").write_text(json.dumps(doc))
    # the bad measurement is named and not judged; the rest of the file still gates
    assert main(["compare", str(tmp_path / "bad-a.json"), str(slow)]) == 1
    captured = capsys.readouterr()
    assert "verdicts: 1 regressed, 1 new" in captured.out and "t.py::b: regressed" in captured.out
    assert f"results file {tmp_path / 'bad-a.json'}: measurement 't.py::a': samples[0] is " in captured.err
    assert "not used as a baseline" in captured.err
    assert main(["compare", str(a), str(tmp_path / "bad-a.json")]) == 2
    captured = capsys.readouterr()
    assert "verdicts: 1 pass" in captured.out and "nan" not in captured.out
    assert "measurement 't.py::a': samples[0] is" in captured.err and "not judged" in captured.err
    assert "Traceback" not in captured.err


BINARY = b"\xff\xfe\x00\x81binary\x00"


@pytest.mark.parametrize(
    "command",
    [
        ["compare", "{good}", "{bin}"],
        ["compare", "{bin}", "{good}"],
        ["merge", "{good}", "{bin}", "-o", "{tmp}/m.json"],
        ["report", "{bin}", "-o", "{tmp}/rep"],
        ["baselines", "prune", "--baselines", "{tmp}/b", "--not-in", "{bin}"],
    ],
    ids=["compare B", "compare A", "merge", "report", "prune --not-in"],
)
def test_a_binary_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    two_machine_store(tmp_path)
    good = run_file(tmp_path / "good.json", key="m1")
    binary = tmp_path / "bin.json"
    binary.write_bytes(BINARY)
    args = [a.format(good=good, bin=binary, tmp=tmp_path) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"causal-eval: error: results file {binary} is not UTF-8 text (byte 0xff at offset 0)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "rep").exists()


def test_a_hand_edited_environment_or_a_device_is_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run_file(tmp_path / "a.json")
    doc = json.loads(a.read_text())
    doc["environment"]["python"] = "3.11"  # a string where an object belongs
    doc["extra"] = {"machine": {"key": "m1", "hard": {"os": "linux"}, "soft": [1]}}
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(doc))
    assert main(["compare", str(a), str(odd), "--allow-different-machines"]) == 0
    assert main(["compare", str(a), "/dev/zero"]) == 2  # would be read forever
    assert "results file /dev/zero is a device, not a file" in capsys.readouterr().err
