"""Pure pieces of A/B runs: the schedule, the budget split, the command, pooling, the floor, judging."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from pytest_causal_eval.ab.judging import ab_floor, judge_ab
from pytest_causal_eval.ab.pooling import pool_measurements, run_medians
from pytest_causal_eval.ab.runner import child_env, letters, pytest_command, run_pytest, schedule, split_flag
from pytest_causal_eval.results import Measurement, Metric, RunResults
from pytest_causal_eval.stats.compare import Threshold


def m(mid: str, samples: list[float], **metrics: float) -> Measurement:
    return Measurement(
        id=mid,
        test_id=mid,
        samples=list(samples),
        metrics={k: Metric(k, v, better="higher") for k, v in metrics.items()},
        extra={"passed": True},
    )


def noisy(center: float, n: int = 30, seed: int = 0) -> list[float]:
    # deterministic +-1% wiggle
    return [center * (1 + 0.01 * math.sin(i * 1.7 + seed)) for i in range(n)]


@pytest.mark.parametrize(
    ("rounds", "order"), [(1, ["base", "head"]), (2, ["base", "head", "head", "base"]), (3, list("ABBAAB"))]
)
def test_schedule_alternates(rounds: int, order: list[str]) -> None:
    expected = [{"A": "base", "B": "head"}.get(x, x) for x in order]
    assert schedule(rounds) == expected


@pytest.mark.parametrize(
    ("so_far", "round_number", "confirming", "order"),
    [
        ("ABBA", 3, True, "B"),  # the head runs once more; it pairs with the last base run
        ("ABBA", 3, False, "AB"),  # only inconclusive tests: a whole pair, the alternation goes on
        ("ABBAB", 4, False, "BA"),
        ("ABBAAB", 4, True, "A"),  # three planned rounds end on the head: the base confirms
        ("AB", 2, True, "A"),
    ],
)
def test_extra_order(so_far: str, round_number: int, confirming: bool, order: str) -> None:
    from pytest_causal_eval.ab.orchestrate import extra_order

    sides = ["base" if c == "A" else "head" for c in so_far]
    assert letters(extra_order(sides, round_number, confirming)) == order  # type: ignore[arg-type]


def test_split_flag_takes_a_flag_and_its_value_out_of_the_pytest_args() -> None:
    flag = "--causal-eval-max-time"
    assert split_flag(["-k", "x", flag, "2s", "tests"], flag) == (["-k", "x", "tests"], "2s")
    assert split_flag([f"{flag}=300ms"], flag) == ([], "300ms")
    assert split_flag([f"{flag}=1s", "-q", flag, "2s"], flag) == (["-q"], "2s")  # the last one wins
    assert split_flag(["tests"], flag) == (["tests"], None)


def test_cli_takes_the_budget_and_the_health_sample_for_itself() -> None:
    from pytest_causal_eval.cli import build_parser
    from pytest_causal_eval.cli.ab import _plan

    args = build_parser().parse_args(
        [
            "ab",
            "--base",
            "HEAD~1",
            "--",
            "-k",
            "x",
            "--causal-eval-health-sample=50ms",
            "--causal-eval-max-time",
            "300ms",
        ]
    )
    plan = _plan(args)
    assert plan.pytest_args == ("-k", "x")  # neither reaches the runs
    assert plan.health_sample == pytest.approx(0.05) and plan.budget == pytest.approx(0.3)
    default = _plan(build_parser().parse_args(["ab", "--base", "HEAD~1"]))
    assert default.health_sample == pytest.approx(0.2) and default.budget == pytest.approx(1.0)


def test_command_runs_the_plugin_without_baselines_and_with_the_split_budget(tmp_path: Path) -> None:
    cmd = pytest_command("py", tmp_path / "r.json", tmp_path / "b", tmp_path / "rep", 0.25, ["-k", "x"])
    assert cmd[:5] == ["py", "-m", "pytest", "-p", "no:cacheprovider"]
    assert "--causal-eval" in cmd
    assert f"--causal-eval-json={tmp_path / 'r.json'}" in cmd
    assert f"--causal-eval-baselines={tmp_path / 'b'}" in cmd
    assert "--causal-eval-max-time=0.25" in cmd
    # the health check runs once in the ab command; half-budget runs stay out of the history database
    assert "--causal-eval-health-sample=off" in cmd and "--causal-eval-history=off" in cmd
    assert cmd[-2:] == ["-k", "x"]  # the user's arguments come last


def test_child_env_puts_the_worktree_first_and_drops_the_step_summary(tmp_path: Path) -> None:
    env = child_env(tmp_path, {"PYTHONPATH": "/elsewhere", "GITHUB_STEP_SUMMARY": "/s", "HOME": "/h"})
    assert env["PYTHONPATH"] == f"{tmp_path}{os.pathsep}/elsewhere"
    assert "GITHUB_STEP_SUMMARY" not in env and env["HOME"] == "/h"
    assert child_env(tmp_path, {})["PYTHONPATH"] == str(tmp_path)


def test_run_pytest_reports_unreadable_results(tmp_path: Path) -> None:
    path = tmp_path / "r.json"

    def writes(text: str | None, code: int = 0):  # type: ignore[no-untyped-def]
        def launcher(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
            if text is not None:
                path.write_text(text)
            return code, "line 1\nline 2\n"

        return launcher

    ok = run_pytest("head", 1, ["py"], tmp_path, {}, path, writes(results_json()))
    assert ok.usable and ok.problem is None
    newer = run_pytest(
        "head", 1, ["py"], tmp_path, {}, path, writes('{"schema_version": 99, "measurements": []}')
    )
    assert not newer.usable and "newer than this pytest-causal-eval understands" in str(newer.problem)
    path.unlink()
    missing = run_pytest("base", 1, ["py"], tmp_path, {}, path, writes(None))
    assert missing.problem == "pytest exited with status 0 but wrote no results file"
    crashed = run_pytest("base", 1, ["py"], tmp_path, {}, path, writes(None, code=3))
    assert crashed.problem == "pytest exited with status 3 (an internal error)"
    assert crashed.tail == ["line 1", "line 2"]


def results_json() -> str:
    import json

    return json.dumps(RunResults(measurements=[m("t", [1.0, 1.0, 1.0])]).to_dict())


def test_pooling_concatenates_rounds_in_run_order() -> None:
    a = m("t", [1.0, 2.0, 3.0], accuracy=0.5)
    b = m("t", [4.0, 5.0], accuracy=0.7)
    b.extra["passed"] = False
    pooled = pool_measurements([a, b])
    assert pooled.samples == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert pooled.metrics["accuracy"].value == pytest.approx(0.6)
    assert pooled.metrics["accuracy"].samples is None  # two values carry no spread
    assert pooled.extra["pooled_runs"] == 2 and pooled.extra["passed"] is False
    assert a.samples == [1.0, 2.0, 3.0]  # inputs untouched
    three = pool_measurements([m("t", [1.0], accuracy=v) for v in (0.5, 0.6, 0.9)])
    assert three.metrics["accuracy"].samples == [0.5, 0.6, 0.9]
    assert run_medians([a, b]) == [2.0, 4.5]


def test_floor_is_the_scaled_prior_for_identical_runs_and_grows_with_observed_spread() -> None:
    assert ab_floor([1.0], [1.0]) == pytest.approx(0.02)  # one process each: the gate's floor
    assert ab_floor([1.0, 1.0], [1.0, 1.0]) == pytest.approx(0.02 / math.sqrt(2))  # ABBA
    assert ab_floor([1.0] * 4, [1.0] * 4) == pytest.approx(0.01)
    spread = ab_floor([1.0, 1.2], [1.0, 1.2])  # runs of one side differ by 20%: widen
    assert spread == pytest.approx(math.log(1.2) / math.sqrt(2) * 1.0, rel=1e-9)
    assert spread > 0.1


def test_judge_ab_regressed_pass_new_removed() -> None:
    base_runs = [[m("slow", noisy(1.0)), m("same", noisy(2.0)), m("gone", noisy(1.0))] for _ in range(2)]
    head_runs = [[m("slow", noisy(1.3, seed=1)), m("same", noisy(2.0, seed=2)), m("new", noisy(1.0))]] * 2
    out = judge_ab(base_runs, head_runs, base_label="base main (abc)")
    verdicts = {h.id: h.extra["verdict"]["verdict"] for h in out.head}
    assert verdicts == {"slow": "regressed", "same": "pass", "new": "new"}
    assert out.removed == ["gone"] and out.new == ["new"]
    assert [line.split(":")[0] for line in out.lines] == ["slow"]
    slow = next(h for h in out.head if h.id == "slow")
    assert slow.extra["verdict"]["baseline"] == "base main (abc)"
    assert slow.extra["ab"]["base_runs"] == 2 and len(slow.samples) == 60


def test_judge_ab_threshold_override_and_recorded_thresholds() -> None:
    base = [[m("t", noisy(1.0))]]
    head = [[m("t", noisy(1.3))]]
    assert (
        judge_ab(base, head, override=Threshold("relative", 0.5)).head[0].extra["verdict"]["verdict"]
        == "pass"
    )
    head[0][0].extra["thresholds"] = {"default": "50%"}  # the head's marker said 50%
    assert judge_ab(base, head).head[0].extra["verdict"]["verdict"] == "pass"
