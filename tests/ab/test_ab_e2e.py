"""``causal-eval ab`` on a repository made in the test: what a user sees (real git, real pytest runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main

from .conftest import FAST_ARGS, Repo, git, worktree_count


def ab(repo: Repo, *args: str) -> int:
    return main(["ab", "--repo", str(repo.path), *args, "--", *FAST_ARGS])


def test_three_times_the_work_is_a_regression(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out_json, out_md = tmp_path / "ab.json", tmp_path / "ab.md"
    code = ab(repo, "--base", repo.fast, "--head", repo.slow, "-o", str(out_json), "--markdown", str(out_md))
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    assert "2 round(s) + 1 extra (to decide or confirm) (ABBAB)" in captured.out
    # p10 when the pooled rounds number 20 or more a side, else the median (the runs are 0.02 s)
    assert re.search(
        r"tests/test_bench\.py::test_work: regressed: (p10|median) 3\.00 ms vs baseline 1\.00 ms: \+200\.0%",
        captured.out,
    )
    assert "only on the base (removed): tests/test_bench.py::test_gone" in captured.out
    assert "only on the head (new): tests/test_bench.py::test_new" in captured.out
    runs = [line.split(": ", 2)[1:] for line in captured.err.splitlines() if ": run " in line]
    # ABBA, then one confirming head run for the regressed test alone (it pairs with the last base run)
    assert [label.split(" ")[0] for _, label in runs] == ["base", "head", "head", "base", "head"]
    assert "1 test(s) undecided (1 to confirm): extra round 1 of 2 for them (B)" in captured.err
    doc = json.loads(out_json.read_text())
    verdicts = {m["id"].split("::")[1]: m["extra"]["verdict"]["verdict"] for m in doc["measurements"]}
    assert verdicts == {"test_work": "regressed", "test_new": "new"}
    info = doc["extra"]["ab"]
    assert info["order"] == "ABBAB" and info["extra_rounds"] == 1
    assert [r["measurements"] for r in info["runs"]] == [2, 2, 2, 2, 1]  # the others deselected
    assert info["removed"] == ["tests/test_bench.py::test_gone"]
    assert info["budget_per_run"] == pytest.approx(0.02)
    assert doc["environment"]["health"]["sample_seconds"] >= 0.2  # sampled once, by the ab command
    work = next(m for m in doc["measurements"] if m["id"].endswith("test_work"))
    assert work["extra"]["ab"]["head_runs"] == 3 and work["extra"]["ab"]["base_runs"] == 2
    assert work["extra"]["ab"]["head_run_medians"] == pytest.approx([0.003, 0.003, 0.003])
    assert work["extra"]["ab"]["replication"] == {"change": pytest.approx(2.0), "replicated": True}
    # the rounds of every head run are pooled (each run: 20 ms of the 40 ms budget, at least 5 rounds)
    assert len(work["samples"]) >= 15
    # identical runs: the scaled prior for 2 base and 3 head processes
    assert work["extra"]["ab"]["floor"] == pytest.approx(0.02 / 2**0.5 * (1 / 2 + 1 / 3) ** 0.5)
    md = out_md.read_text()
    assert "❌ regressed" in md and "`tests/test_bench.py::test_work`" in md
    assert summary.read_text() == md  # appended to the job summary, once (the runs do not write it)
    assert worktree_count(repo.path) == 1


def test_same_commit_twice_passes_and_says_the_tree_is_dirty(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    work_py = repo.path / "slowpkg" / "work.py"
    original = work_py.read_text()
    work_py.write_text(original.replace("UNITS = 3", "UNITS = 30"))  # uncommitted: must not be measured
    try:
        code = ab(repo, "--base", repo.slow, "--head", repo.slow)
    finally:
        work_py.write_text(original)
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "verdicts: 2 pass" in captured.out
    assert (
        "uncommitted changes (1 file(s), e.g. slowpkg/work.py); ab measures the committed state"
        in captured.out
    )
    # said when it is found, once prefixed, before the first run
    err = captured.err.splitlines()
    assert err[0].startswith("causal-eval ab: note: the working tree has uncommitted changes")
    assert "causal-eval ab: causal-eval ab:" not in captured.err
    assert any(line.startswith("causal-eval ab: run 1/4: base ") for line in err)
    assert worktree_count(repo.path) == 1


def test_a_base_that_fails_to_import_is_reported_not_a_crash(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "ab.md"
    code = ab(repo, "--base", repo.broken, "--head", repo.fast, "--rounds", "1", "--markdown", str(md))
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "verdicts: 2 new" in captured.out
    assert "could not be measured: pytest exited with status 4" in captured.out
    assert "slowpkg is broken here" in captured.out  # the tail of its output
    assert "--- last lines of the base run's output ---" in captured.out
    text = md.read_text()
    assert "**2** new" in text and "could not be measured" in text
    assert "<details><summary>base: last lines of the output</summary>" in text
    assert "slowpkg is broken here" in text
    assert worktree_count(repo.path) == 1


def test_a_head_that_fails_to_import_fails_the_command(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = ab(repo, "--base", repo.fast, "--head", repo.broken, "--rounds", "1")
    captured = capsys.readouterr()
    assert code == 1
    assert "could not be measured: pytest exited with status 4" in captured.out
    assert "nothing could be judged" in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--base", "no-such-branch"), "--base: no commit named 'no-such-branch'"),
        (("--base", "HEAD", "--head", "v9.9"), "--head: no commit named 'v9.9'"),
        (("--base", "HEAD", "--rounds", "0"), "--rounds: expected a positive integer, got '0'"),
        (("--base", "HEAD", "--threshold", "2pts"), "--threshold: expected a percentage such as 10%"),
        (("--base", "HEAD", "--budget", "soon"), "--budget: expected a duration"),
        (
            ("--base", "HEAD", "--", "--causal-eval-health-sample=often"),
            "--causal-eval-health-sample: expected off or a duration",
        ),
        (
            ("--base", "HEAD", "--extra-rounds", "9"),
            "--extra-rounds: expected a number of rounds from 0 to 5",
        ),
        (
            ("--base", "HEAD", "--workdir", "/proc/none"),
            "--workdir: cannot create a temporary directory in /proc/none",
        ),
        (("--base", "HEAD", "--python", "/no/such/python"), "--python: /no/such/python does not exist"),
    ],
)
def test_usage_errors_name_the_flag_and_value(
    repo: Repo, args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ab(repo, *args) == 2
    err = capsys.readouterr().err
    assert f"causal-eval: error: {message}" in err
    assert "Traceback" not in err
    assert worktree_count(repo.path) == 1


def test_not_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ab", "--repo", str(tmp_path), "--base", "HEAD"]) == 2
    assert "is not inside a git repository" in capsys.readouterr().err


def test_git_log_is_untouched(repo: Repo) -> None:
    """ab never commits, checks out or moves a branch in the user's repository."""
    assert git(repo.path, "rev-parse", "HEAD") == repo.slow
    assert git(repo.path, "status", "--porcelain") == ""
