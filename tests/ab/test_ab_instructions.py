"""``causal-eval ab --mode instructions``: one run per side under real valgrind, judged on counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import git

from pytest_causal_eval.cli import main

from .conftest import worktree_count

WORK = '''
UNITS = {units}


def work():
    """Deterministic Python work: UNITS x 500 multiplications."""
    return sum(i * i % 7 for i in range(UNITS * 500))
'''

TESTS = """
from countpkg.work import work


def test_count(causal_bench):
    causal_bench(work)
"""

ARGS = ("tests", "-q")


def _commit(repo: Path, units: int, message: str) -> str:
    (repo / "countpkg").mkdir(exist_ok=True)
    (repo / "countpkg" / "__init__.py").write_text("")
    (repo / "countpkg" / "work.py").write_text(WORK.format(units=units))
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_count.py").write_text(TESTS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("abcount")
    git(path, "init", "-q")
    base = _commit(path, 10, "ten units")
    head = _commit(path, 13, "thirteen units: 30% more work")
    return path, base, head


def ab(repo: Path, *args: str) -> int:
    return main(["ab", "--repo", str(repo), *args, "--", *ARGS])


@pytest.mark.usefixtures("needs_valgrind")
def test_thirty_percent_more_work_regresses_in_one_run_per_side(
    counted: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base, head = counted
    out, md = tmp_path / "ab.json", tmp_path / "ab.md"
    code = ab(
        repo, "--mode", "instructions", "--base", base, "--head", head, "-o", str(out), "--markdown", str(md)
    )
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    assert "instruction counts (valgrind callgrind), one run per side (AB)" in captured.out
    line = next(ln for ln in captured.out.splitlines() if ln.startswith("tests/test_count.py::test_count: "))
    assert "regressed: instructions " in line and "per call: +" in line, line
    # the hotspots of the two dumps, diffed: the bytecode loop did 30% more
    assert "_PyEval_EvalFrameDefault [libpython" in captured.out
    doc = json.loads(out.read_text())
    info = doc["extra"]["ab"]
    assert (info["mode"], info["order"], info["extra_rounds"]) == ("instructions", "AB", 0)
    (measured,) = doc["measurements"]
    verdict = measured["extra"]["verdict"]
    assert verdict["verdict"] == "regressed" and verdict["metric"] == "instructions"
    change = next(c["change"] for c in verdict["all"] if c["metric"] == "instructions")
    assert 0.27 < change < 0.33  # +30% of the work, plus the call's fixed part
    # its own comment marker: a PR's wall-time comment must never find and overwrite this one
    report = md.read_text()
    assert report.startswith("<!-- causal-eval-instructions -->\n") and "causal-eval-report" not in report
    assert worktree_count(repo) == 1


@pytest.mark.usefixtures("needs_valgrind")
def test_the_same_commit_counts_the_same(
    counted: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base, _ = counted
    code = ab(repo, "--base", base, "--head", base, "--", "--causal-eval-mode=instructions")
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "one run per side (AB)" in captured.out
    assert "regressed" not in captured.out and "inconclusive" not in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--mode", "cycles"), "--mode: expected time or instructions, got 'cycles'"),
        (
            ("--mode", "instructions", "--rounds", "3"),
            "--rounds does not apply to --mode instructions: instruction counts are deterministic",
        ),
        (
            ("--mode", "instructions", "--extra-rounds", "1"),
            "--extra-rounds does not apply to --mode instructions",
        ),
        (("--mode", "instructions", "--budget", "2s"), "--budget does not apply to --mode instructions"),
        (
            ("--mode", "time", "--", "--causal-eval-mode=instructions"),
            "--mode time and --causal-eval-mode=instructions among PYTEST_ARGS disagree",
        ),
    ],
)
def test_usage_errors_of_the_mode(
    counted: tuple[Path, str, str], args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base, _ = counted
    assert main(["ab", "--repo", str(repo), "--base", base, *args]) == 2
    err = capsys.readouterr().err
    assert f"causal-eval: error: {message}" in err
    assert "Traceback" not in err


def test_without_valgrind_it_says_what_to_install(
    counted: tuple[Path, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, base, _ = counted
    monkeypatch.setenv("PATH", str(tmp_path))  # no valgrind on it
    assert main(["ab", "--repo", str(repo), "--base", base, "--mode", "instructions"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install valgrind" in err and "Traceback" not in err
