"""Worktrees are removed on errors, Ctrl-C and SIGTERM; a worktree that cannot be made leaves nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pytest_causal_eval.ab.orchestrate import ABPlan, execute
from pytest_causal_eval.ab.runner import letters
from pytest_causal_eval.ab.worktrees import ABError, Worktrees, interrupt_on_termination

from .conftest import Repo, worktree_count


def leftovers(workdir: Path) -> list[Path]:
    return sorted(workdir.glob("causal-eval-ab-*")) if workdir.exists() else []


def test_ctrl_c_during_a_run_removes_the_worktrees(repo: Repo, tmp_path: Path) -> None:
    seen: list[Path] = []

    def interrupted(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        seen.append(cwd)
        assert (cwd / "slowpkg" / "work.py").exists()  # the worktree is checked out
        assert env["PYTHONPATH"].split(os.pathsep)[0] == str(cwd)
        raise KeyboardInterrupt

    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, launcher=interrupted, progress=lambda line: None, workdir=tmp_path)
    assert len(seen) == 1
    assert not seen[0].exists()
    assert worktree_count(repo.path) == 1
    assert leftovers(tmp_path) == []


def test_sigterm_becomes_an_interrupt_that_cleans_up(repo: Repo, tmp_path: Path) -> None:
    def terminated(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        os.kill(os.getpid(), signal.SIGTERM)  # a cancelled CI job
        return 0, ""

    before = signal.getsignal(signal.SIGTERM)
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, launcher=terminated, progress=lambda line: None, workdir=tmp_path)
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored
    assert worktree_count(repo.path) == 1
    assert leftovers(tmp_path) == []


def test_a_worktree_that_cannot_be_created_leaves_nothing_behind(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Worktrees.add

    def second_fails(self: Worktrees, name: str, commit: str) -> Path:
        if name == "head":
            return original(self, name, "0" * 40)  # git refuses: no such object
        return original(self, name, commit)

    monkeypatch.setattr(Worktrees, "add", second_fails)
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path)
    with pytest.raises(ABError, match=r"cannot create a worktree of 000000000000 at .*head"):
        execute(plan, progress=lambda line: None, workdir=tmp_path)
    assert worktree_count(repo.path) == 1
    assert leftovers(tmp_path) == []


def test_worktrees_add_into_an_impossible_place(repo: Repo, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    trees = Worktrees(repo.path, blocker)
    with pytest.raises(ABError, match="cannot create a worktree"):
        trees.add("base", repo.fast)
    assert trees.close() == []
    assert worktree_count(repo.path) == 1
    assert blocker.read_text() == "not a directory"


def test_an_existing_path_is_never_taken_over(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "mine.txt").write_text("keep")
    trees = Worktrees(repo.path, tmp_path)
    with pytest.raises(ABError, match="already exists"):
        trees.add("base", repo.fast)
    trees.close()
    assert (tmp_path / "base" / "mine.txt").read_text() == "keep"


def test_interrupt_on_termination_restores_the_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interrupt_on_termination():
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next statement
        pytest.fail("SIGTERM did not interrupt")
    assert signal.getsignal(signal.SIGTERM) == before


def fake_pytest(samples: dict[str, dict[str, list[float]]], commands: list[list[str]]):  # type: ignore[no-untyped-def]
    """A launcher writing a results file: samples per worktree name per test; honours --deselect."""
    import json

    from pytest_causal_eval.results import Measurement, RunResults

    def launcher(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        commands.append(cmd)
        path = next(a.split("=", 1)[1] for a in cmd if a.startswith("--causal-eval-json="))
        deselected = [a.split("=", 1)[1] for a in cmd if a.startswith("--deselect=")]
        ms = [
            Measurement(id=tid, test_id=tid, samples=values, extra={"passed": True})
            for tid, values in samples[cwd.name].items()
            if not tid.startswith(tuple(deselected))
        ]
        Path(path).write_text(json.dumps(RunResults(measurements=ms).to_dict()))
        return 0, ""

    return launcher


WIDE = [1.0, 1.3, 0.8, 1.25, 0.85, 1.2, 0.9, 1.15]  # too noisy to decide a +8% change
SIDES = {
    "base": {"t.py::test_x": WIDE, "t.py::test_y": [1.0] * 8},
    "head": {"t.py::test_x": [v * 1.08 for v in WIDE], "t.py::test_y": [1.0] * 8},
}


@pytest.mark.parametrize(("extra", "order"), [(0, "ABBA"), (1, "ABBAAB"), (2, "ABBAABBA")])
def test_inconclusive_tests_get_extra_rounds_alone(
    repo: Repo, tmp_path: Path, extra: int, order: str
) -> None:
    from pytest_causal_eval.ab.report import results_document

    commands: list[list[str]] = []
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=extra)
    outcome = execute(
        plan, launcher=fake_pytest(SIDES, commands), progress=lambda line: None, workdir=tmp_path
    )
    assert outcome.extra_rounds == extra
    x, y = outcome.judgement.head
    assert (x.extra["verdict"]["verdict"], y.extra["verdict"]["verdict"]) == ("inconclusive", "pass")
    assert results_document(outcome).extra["ab"]["order"] == order
    assert len(x.samples) == len(WIDE) * len(order) // 2  # every run measured the undecided test
    assert len(y.samples) == 8 * 2  # the decided one only in the planned rounds
    assert all("--deselect=t.py::test_y" in cmd for cmd in commands[4:])
    assert not any("--deselect=t.py::test_x" in cmd for cmd in commands)


def test_decided_comparisons_need_no_extra_rounds(repo: Repo, tmp_path: Path) -> None:
    same = {"base": {"t.py::test_y": [1.0] * 8}, "head": {"t.py::test_y": [1.0] * 8}}
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=3)
    outcome = execute(plan, launcher=fake_pytest(same, []), progress=lambda line: None, workdir=tmp_path)
    assert outcome.extra_rounds == 0 and len(outcome.runs) == 4
    assert outcome.judgement.head[0].extra["verdict"]["verdict"] == "pass"


def test_deselect_args_never_deselect_a_prefix_of_an_undecided_test() -> None:
    from pytest_causal_eval.ab.orchestrate import deselect_args

    known = {"t.py::test_a", "t.py::test_ab", "t.py::test_c[1]", "t.py::test_c[10]"}
    assert deselect_args(known, {"t.py::test_ab", "t.py::test_c[10]"}) == ["--deselect=t.py::test_c[1]"]


def burst_pytest(head_medians: list[float], base_medians: list[float] | None = None):  # type: ignore[no-untyped-def]
    """The head's n-th run at ``head_medians[n]`` (a burst of load, or a real change); the base's at
    ``base_medians[n]`` (default: always 1.0)."""
    import json

    from pytest_causal_eval.results import Measurement, RunResults

    count = {"head": 0, "base": 0}

    def launcher(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        path = next(a.split("=", 1)[1] for a in cmd if a.startswith("--causal-eval-json="))
        side = "head" if cwd.name == "head" else "base"
        levels = head_medians if side == "head" else base_medians
        level = levels[count[side]] if levels is not None else 1.0
        count[side] += 1
        samples = [level * (1 + 0.002 * ((i * 7) % 5 - 2)) for i in range(20)]
        m = Measurement(id="t.py::test_x", test_id="t.py::test_x", samples=samples, extra={"passed": True})
        Path(path).write_text(json.dumps(RunResults(measurements=[m]).to_dict()))
        return 0, ""

    return launcher


@pytest.mark.parametrize("third", [1.0, 1.08])
def test_a_burst_on_the_middle_runs_is_not_a_regression(repo: Repo, tmp_path: Path, third: float) -> None:
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=1)
    launcher = burst_pytest([1.3, 1.3, third])
    outcome = execute(plan, launcher=launcher, progress=lambda line: None, workdir=tmp_path)
    x = outcome.judgement.head[0]
    assert outcome.extra_rounds == 1
    assert letters([r.side for r in outcome.runs]) == "ABBAB"
    # the fast tenth of the pooled head rounds lies in the third run: too noisy to convict
    assert x.extra["verdict"]["verdict"] == "inconclusive"
    assert "too noisy to decide" in x.extra["verdict"]["message"]


def test_a_burst_on_the_base_s_confirming_run_is_not_replicated(repo: Repo, tmp_path: Path) -> None:
    """Pooled, the head convicts; the confirming pair alone (its base run slow) does not replicate it."""
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=1)
    launcher = burst_pytest([1.3, 1.3, 1.3], base_medians=[1.0, 1.22])
    outcome = execute(plan, launcher=launcher, progress=lambda line: None, workdir=tmp_path)
    x = outcome.judgement.head[0]
    assert letters([r.side for r in outcome.runs]) == "ABBAB"
    assert x.extra["verdict"]["verdict"] == "inconclusive"
    assert "confirming round alone measured +6.6%: not replicated" in x.extra["verdict"]["message"]
    assert x.extra["ab"]["replication"]["replicated"] is False
    assert any(line.startswith("t.py::test_x: inconclusive:") for line in outcome.judgement.lines)
    assert not any(": regressed:" in line for line in outcome.judgement.lines)


def test_a_real_slowdown_is_confirmed(repo: Repo, tmp_path: Path) -> None:
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path)  # default: 2 extra rounds
    outcome = execute(
        plan, launcher=burst_pytest([1.3, 1.3, 1.3]), progress=lambda line: None, workdir=tmp_path
    )
    x = outcome.judgement.head[0]
    assert x.extra["verdict"]["verdict"] == "regressed"
    assert len(outcome.runs) == 5  # one confirming head run, paired with the last base run
    assert x.extra["ab"]["replication"] == {"change": pytest.approx(0.3), "replicated": True}


def test_without_extra_rounds_nothing_is_confirmed(repo: Repo, tmp_path: Path) -> None:
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=0)
    outcome = execute(plan, launcher=burst_pytest([1.3, 1.3]), progress=lambda line: None, workdir=tmp_path)
    assert len(outcome.runs) == 4
    assert outcome.judgement.head[0].extra["verdict"]["verdict"] == "regressed"
