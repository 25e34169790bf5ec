"""The history database: append, read back, corrupt files, locks, newer schemas; and the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from report.fakes import make_results

from pytest_causal_eval.cli import main
from pytest_causal_eval.history.records import run_record
from pytest_causal_eval.history.store import HistoryError, HistoryStore, match_benchmark


def record_runs(
    path: Path, medians: list[float], commit_prefix: str = "c", dirty: int = -1, noisy: int = -1
) -> HistoryStore:
    """One run per median scale; run ``dirty`` had uncommitted changes, run ``noisy`` a busy machine."""
    store = HistoryStore(path, timeout=0.2)
    for i, scale in enumerate(medians):
        results = make_results(3, evil=False)
        results.environment["git"] = {
            "commit": f"{commit_prefix}{i:07d}ffff",
            "branch": "main",
            "dirty": i == dirty,
        }
        results.environment["health"] = {
            "noisy": i == noisy,
            "reasons": ["load average 3.85"] if i == noisy else [],
        }
        for m in results.measurements:
            m.samples = [v * scale for v in m.samples]
            m.extra["health"] = {"noisy": i == noisy}
        store.append(run_record(results))
    return store


def test_runs_are_appended_and_read_back_per_machine_and_benchmark(tmp_path: Path) -> None:
    store = record_runs(tmp_path / "h.sqlite", [1.0, 1.0, 1.5])
    assert store.run_count() == 3 and store.run_count("linux-test-key") == 3 and store.run_count("x") == 0
    series = store.series()
    assert len(series) == 3
    points = series[("linux-test-key", "tests/test_eval.py::test_case[0000]")]
    assert [p.commit for p in points] == ["c0000000ffff", "c0000001ffff", "c0000002ffff"]
    assert points[2].median == pytest.approx(1.5 * points[0].median, rel=0.1)
    assert points[0].n == 30 and points[0].branch == "main"
    assert list(store.series(pattern="*[0001]", limit=2)) == [
        ("linux-test-key", "tests/test_eval.py::test_case[0001]")
    ]
    assert len(store.series(limit=2)[("linux-test-key", "tests/test_eval.py::test_case[0001]")]) == 2
    with sqlite3.connect(tmp_path / "h.sqlite") as conn:
        metrics = conn.execute("SELECT metrics, verdict FROM measurements LIMIT 1").fetchone()
    conn.close()
    assert '"accuracy"' in metrics[0] and metrics[1] == "regressed"


def test_match_benchmark_glob_or_substring() -> None:
    assert match_benchmark("a/test_x.py::test_y[1]", "test_y")
    assert match_benchmark("a/test_x.py::test_y[1]", "*test_y[1]")
    assert not match_benchmark("a/test_x.py::test_y[1]", "*test_y[12]")
    assert not match_benchmark("a/test_x.py::test_y[1]", "test_z*")
    assert match_benchmark("anything", None)


def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    run_id, moved = HistoryStore(path).append(run_record(make_results(2, evil=False)))
    assert moved is not None and moved.name.startswith("h.sqlite.corrupt-")
    assert moved.read_bytes().startswith(b"this is not a database")
    assert run_id == 1 and HistoryStore(path).run_count() == 1


def test_someone_elses_sqlite_file_is_moved_aside_not_written_into(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE foreign_data (x INTEGER)")
    conn.commit()
    conn.close()
    _, moved = HistoryStore(path).append(run_record(make_results(1, evil=False)))
    assert moved is not None
    with sqlite3.connect(moved) as other:
        assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("foreign_data",)]
    other.close()


def test_a_newer_schema_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).append(run_record(make_results(1, evil=False)))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="schema_version 99 is newer"):
        HistoryStore(path).append(run_record(make_results(1, evil=False)))
    assert path.read_bytes() == before and not list(tmp_path.glob("*.corrupt-*"))


def test_a_locked_database_is_an_error_not_a_hang_nor_a_move(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path).append(run_record(make_results(1, evil=False)))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError, match="locked by another run"):
            HistoryStore(path, timeout=0.05).append(run_record(make_results(1, evil=False)))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert HistoryStore(path).run_count() == 1 and not list(tmp_path.glob("*.corrupt-*"))


def test_cli_history_prints_sparklines_and_the_commit_of_a_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    record_runs(db, [1.0] * 5 + [1.4] * 4)
    assert main(["history", "--history", str(db), "--benchmark", "test_case[0002]"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"history: {db}: 9 run(s)"
    assert out[1] == "tests/test_eval.py::test_case[0002]"
    assert out[2].startswith("  ") and "9 run(s); last: " in out[2]
    assert out[3].startswith("  stepped +4") and "at c0000005 on main, run 6" in out[3]
    assert len(out) == 4
    assert main(["history", "--history", str(db), "--limit", "3", "--benchmark", "nothing-like-it"]) == 0
    assert "no benchmarks matching 'nothing-like-it'" in capsys.readouterr().out


def test_cli_history_says_dirty_and_noisy_steps_and_lists_few_runs_without_a_sparkline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "h.sqlite"
    record_runs(db, [1.0] * 5 + [1.4] * 4, dirty=5)
    assert main(["history", "--history", str(db), "--benchmark", "test_case[0002]"]) == 0
    step = capsys.readouterr().out.splitlines()[3]
    assert "at c0000005+dirty (uncommitted changes) on main, run 6" in step
    assert "noisy" not in step
    db2 = tmp_path / "h2.sqlite"
    record_runs(db2, [1.0] * 5 + [1.4] * 4, noisy=5)
    assert main(["history", "--history", str(db2), "--benchmark", "test_case[0002]"]) == 0
    step = capsys.readouterr().out.splitlines()[3]
    assert step.endswith("run 6 (2024-05-01); the machine was noisy in that run: maybe load, not code")
    conn = sqlite3.connect(db2)
    try:
        (health,) = conn.execute("SELECT health FROM runs WHERE id = 6").fetchone()
    finally:
        conn.close()
    assert '"noisy": true' in health and "load average 3.85" in health  # stored with the run
    db3 = tmp_path / "h3.sqlite"
    record_runs(db3, [1.0])
    assert main(["history", "--history", str(db3), "--benchmark", "test_case[0002]"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("  1 run(s): ") and out[2].endswith(" ms (a step needs 4 runs)"), out[2]
    assert not any(ch in "".join(out) for ch in "▁▂▃▄▅▆▇█")


def test_cli_history_help_says_a_step_needs_4_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["history", "--help"])
    assert "A step (change point) needs at least 4 runs" in " ".join(capsys.readouterr().out.split())


def test_cli_history_user_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--history", str(tmp_path / "missing.sqlite")]) == 2
    assert "--history: no history database at" in capsys.readouterr().err
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 200)
    assert main(["history", "--history", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"history database {bad}" in err and "Traceback" not in err
    assert bad.read_bytes() == b"garbage" * 200  # reading never moves a file
    with pytest.raises(SystemExit):
        main(["history", "--limit", "0"])
