"""``causal-eval ab`` applies the gate's foreign-load rule to the head's timed rounds: each run reads
its load, the side's readings are pooled, and a time regression measured under load is
inconclusive (pure pieces with planted readings, and a real A/B run whose head is planted busy)."""

from __future__ import annotations

import fnmatch
import math
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.ab.judging import judge_ab
from pytest_causal_eval.ab.pooling import pool_measurements
from pytest_causal_eval.cli import CLIError, build_parser, main
from pytest_causal_eval.results import Measurement

from .conftest import FAST_ARGS, Repo


def run(center: float, share: float | None, seconds: float = 1.0, seed: int = 0) -> Measurement:
    extra: dict[str, Any] = {"passed": True}
    if share is not None:
        extra["load"] = {"foreign_share": share, "cpus": 2, "seconds": seconds}
    samples = [center * (1 + 0.01 * math.sin(i * 1.7 + seed)) for i in range(30)]
    return Measurement(id="t", test_id="t", samples=samples, extra=extra)


def verdict(out: Any) -> dict[str, Any]:
    record: dict[str, Any] = out.head[0].extra["verdict"]
    return record


def test_the_load_of_every_run_of_a_side_is_pooled_by_the_seconds_it_covered() -> None:
    pooled = pool_measurements([run(1.0, 0.6, 1.0), run(1.0, 0.0, 3.0), run(1.0, None)])
    assert pooled.extra["load"] == {"foreign_share": 0.15, "cpus": 2, "seconds": 4.0}
    assert "load" not in pool_measurements([run(1.0, None), run(1.0, None)]).extra


def test_a_regression_measured_while_the_head_was_busy_is_inconclusive() -> None:
    base = [[run(1.0, 0.0)], [run(1.0, 0.0, seed=3)]]
    head = [[run(1.3, 0.6, seed=1)], [run(1.3, 0.0, seed=2)]]  # one busy head run of two: 30%
    out = judge_ab(base, head)
    record = verdict(out)
    assert record["verdict"] == "inconclusive"
    assert record["message"].endswith(
        "> 10% threshold, but other processes used 30% of 2 CPUs during the head's timed rounds "
        "(limit 25%, --max-foreign-load): inconclusive"
    )
    assert out.lines == [f"t: inconclusive: {record['message']}"]
    info = out.head[0].extra["ab"]
    assert info["head_foreign_share"] == pytest.approx(0.3) and info["base_foreign_share"] == 0.0
    off = judge_ab(base, head, max_foreign_load=None)
    assert verdict(off)["verdict"] == "regressed"


def test_a_busy_base_does_not_make_the_head_inconclusive_but_says_it_may_be_slow() -> None:
    base = [[run(1.0, 0.7)], [run(1.0, 0.7, seed=3)]]
    head = [[run(1.3, 0.0, seed=1)], [run(1.3, 0.0, seed=2)]]
    record = verdict(judge_ab(base, head))
    assert record["verdict"] == "regressed"  # load on the base hides regressions; it cannot invent one
    assert record["baseline_note"] == "measured while other processes used 70% of the CPUs: it may be slow"


def test_the_limit_comes_from_the_option_else_from_what_the_head_s_runs_recorded() -> None:
    from pytest_causal_eval.cli.ab import _plan

    def plan(*args: str) -> Any:
        return _plan(build_parser().parse_args(["ab", "--base", "HEAD~1", *args]))

    default = plan()
    assert default.max_foreign_load == 0.25 and default.load_limit_from_runs  # unless the runs recorded one
    chosen = plan("--max-foreign-load=50%")
    assert chosen.max_foreign_load == 0.5 and not chosen.load_limit_from_runs
    passed_on = plan("--", "-k", "x", "--causal-eval-max-foreign-load=off")  # the runs record it
    assert passed_on.pytest_args == ("-k", "x", "--causal-eval-max-foreign-load=off")
    assert passed_on.load_limit_from_runs
    both = plan("--max-foreign-load", "40%", "--", "--causal-eval-max-foreign-load=off")
    assert both.max_foreign_load == 0.4 and not both.load_limit_from_runs
    with pytest.raises(CLIError, match="--max-foreign-load: expected off or a percentage from 1% to 100%"):
        plan("--max-foreign-load=0%")
    with pytest.raises(CLIError, match="--causal-eval-max-foreign-load: expected off or a percentage"):
        plan("--", "--causal-eval-max-foreign-load=busy")


def test_a_real_ab_run_with_a_busy_head_is_inconclusive_and_says_so_first(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LOAD_3", "0.6")  # the head (three times the work) ran beside busy neighbours
    md = tmp_path / "ab.md"
    args = ["ab", "--repo", str(repo.path), "--base", repo.fast, "--head", repo.slow, "--extra-rounds", "0"]
    code = main([*args, "--markdown", str(md), "--", *FAST_ARGS])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    lines = captured.out.splitlines()
    assert lines[1] == (
        "causal-eval: WARNING 1 time regression(s) measured while other processes used 60% of the CPUs "
        "are inconclusive, not failed (--strict fails them): tests/test_bench.py::test_work"
    )
    pattern = (
        "tests/test_bench.py::test_work: inconclusive: * 3.00 ms vs baseline 1.00 ms: +200.0% "
        "(95% CI *) > 10% threshold, but other processes used 60% of 2 CPUs during the head's timed "
        "rounds (limit 25%, --max-foreign-load): inconclusive"
    )
    assert any(fnmatch.fnmatchcase(line, pattern) for line in lines), captured.out
    text = md.read_text()
    assert text.index("1 inconclusive (foreign load: other processes used 60% of the CPUs") < text.index("| ")
    code = main([*args, "--strict", "--", *FAST_ARGS])
    assert code == 1
    assert "are inconclusive, failed (--strict)" in capsys.readouterr().out
    # the gate's flag among the pytest arguments reaches the runs, which record it: judged anyway
    code = main([*args, "--", *FAST_ARGS, "--causal-eval-max-foreign-load=off"])
    out = capsys.readouterr().out
    assert code == 1 and re.search(r"tests/test_bench\.py::test_work: regressed: (p10|median) 3\.00 ms", out)
