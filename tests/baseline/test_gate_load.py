"""A time regression measured while other processes used a large share of the CPUs is
inconclusive, not regressed (a fake clock plants the slowdown, a fake sampler the foreign load)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_causal_eval.baseline.load import busy_reason, busy_summary_line, judge_under_load
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.compare import Comparison, Threshold

from .runargs import ARGS

PLAIN = ("-k", "plain")


def verdict(pytester: pytest.Pytester) -> dict[str, Any]:
    data = json.loads((pytester.path / "out.json").read_text())
    [m] = [m for m in data["measurements"] if m["id"].endswith("test_plain")]
    return dict(m["extra"]["verdict"], load=m["extra"].get("load"))


def planted(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, load: str) -> None:
    project.runpytest(*ARGS, "--causal-eval-save", *PLAIN).assert_outcomes(passed=1, deselected=2)
    monkeypatch.setenv("FAKE_SEED", "3")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_LOAD", load)


def test_a_regression_under_foreign_load_is_inconclusive_with_the_share_and_said_first(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted(project, monkeypatch, "0.48")
    result = project.runpytest(*ARGS, *PLAIN, "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1, deselected=2)
    assert result.ret == 0
    out = result.stdout.str()
    line = (
        "causal-eval: WARNING 1 time regression(s) measured while other processes used 48% of the CPUs "
        "are inconclusive, not failed (--causal-eval-strict fails them): test_gate.py::test_plain"
    )
    assert line in out
    # at the top of the verdicts, before the table
    assert out.index(line) < out.index("verdicts: 1 inconclusive")
    record = verdict(project)
    assert record["verdict"] == "inconclusive"
    recorded = json.loads((project.path / "out.json").read_text())["extra"]["baseline"]["max_foreign_load"]
    assert recorded == "25%"  # for `causal-eval compare` and `ab`, which judge by it
    assert 0.25 < record["change"] < 0.35  # the measurement is what it was: only the verdict changed
    assert record["load"] == {"foreign_share": 0.48, "cpus": 2, "seconds": 1.0}
    assert record["message"].endswith(
        "> 10% threshold, but other processes used 48% of 2 CPUs during the timed rounds "
        "(limit 25%, --causal-eval-max-foreign-load): inconclusive"
    )


def test_strict_fails_a_regression_under_foreign_load(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted(project, monkeypatch, "0.6")
    result = project.runpytest(*ARGS, *PLAIN, "--causal-eval-strict")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*test_plain inconclusive (--causal-eval-strict)",
            "*p10 1.2? ms vs baseline 98? us: *> 10% threshold, but other processes used 60% of 2 CPUs*",
        ]
    )
    assert "are inconclusive, failed (--causal-eval-strict)" in result.stdout.str()


@pytest.mark.parametrize(("load", "option"), [("0.2", ()), ("0.9", ("--causal-eval-max-foreign-load=off",))])
def test_a_regression_on_a_quiet_machine_or_with_the_limit_off_fails(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, load: str, option: tuple[str, ...]
) -> None:
    planted(project, monkeypatch, load)
    result = project.runpytest(*ARGS, *PLAIN, *option, "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1, deselected=2)
    assert verdict(project)["verdict"] == "regressed"
    assert "time regression(s) measured while other processes" not in result.stdout.str()


def test_the_limit_is_a_percentage_of_the_cpus(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted(project, monkeypatch, "0.48")
    result = project.runpytest(*ARGS, *PLAIN, "--causal-eval-max-foreign-load=50%")
    result.assert_outcomes(failed=1, deselected=2)
    bad = project.runpytest(*ARGS, *PLAIN, "--causal-eval-max-foreign-load=250%")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(
        ["*--causal-eval-max-foreign-load*expected off or a percentage from 1% to 100%*"]
    )


def _comparison(metric: str, verdict: str) -> Comparison:
    return Comparison(
        verdict=verdict,  # type: ignore[arg-type]
        metric=metric,
        better="lower",
        change=0.3,
        ci_low=0.2,
        ci_high=0.4,
        threshold=Threshold("relative", 0.10),
        baseline_center=1.0,
        candidate_center=1.3,
        method="m",
        n_baseline=10,
        n_candidate=10,
    )


def test_only_a_time_regression_changes_under_load() -> None:
    comparisons = [
        _comparison("time", "regressed"),
        _comparison("rss_growth", "regressed"),
        _comparison("accuracy", "pass"),
    ]
    judged = judge_under_load(comparisons, {"foreign_share": 0.3, "cpus": 4}, 0.25)
    assert [c.verdict for c in judged] == ["inconclusive", "regressed", "pass"]
    assert judged[0].reason.startswith("other processes used 30% of 4 CPUs")
    for load, limit in (({"foreign_share": 0.3}, None), (None, 0.25), ({"foreign_share": "lots"}, 0.25)):
        assert judge_under_load(comparisons, load, limit) == comparisons
    assert busy_reason({"foreign_share": 0.25}, 0.25)  # at the limit counts


def test_the_summary_line_gives_the_range_of_shares_seen() -> None:
    def measured(mid: str, share: float, reason: str) -> Measurement:
        record = {
            "verdict": "inconclusive",
            "all": [{"metric": "time", "verdict": "inconclusive", "reason": reason}],
        }
        return Measurement(id=mid, test_id=mid, extra={"verdict": record, "load": {"foreign_share": share}})

    rows = [measured(f"t{i}", share, "busy") for i, share in enumerate((0.3, 0.62, 0.41, 0.5))]
    rows.append(measured("noisy", 0.1, ""))  # inconclusive from noise: not this line's business
    line = busy_summary_line(rows, strict=False)
    assert "4 time regression(s) measured while other processes used 30%-62% of the CPUs" in line
    assert line.endswith(": t0, t1, t2 and 1 more")
    assert busy_summary_line(rows[-1:], strict=False) == ""


def test_saving_on_a_busy_machine_says_the_baseline_may_be_slow(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LOAD", "0.7")
    result = project.runpytest(*ARGS, "--causal-eval-save", *PLAIN)
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "note: 1 measurement(s) were saved while other processes used 70% of the CPUs: "
            "their baseline may be slow*"
        ]
    )
    monkeypatch.setenv("FAKE_LOAD", "0.1")
    quiet = project.runpytest(*ARGS, "--causal-eval-save", *PLAIN)
    assert "were saved while other processes" not in quiet.stdout.str()


def test_the_re_measuring_passes_are_read_too(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Undecided, the gate pools two more passes of rounds: the load it judges covers all three."""
    monkeypatch.setenv("FAKE_NOISE", "0.6")
    args = (*ARGS, "--causal-eval-max-rounds", "8", *PLAIN)
    project.runpytest(*args, "--causal-eval-save").assert_outcomes(passed=1, deselected=2)
    monkeypatch.setenv("FAKE_SEED", "5")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.12")
    monkeypatch.setenv("FAKE_LOAD", "0.3")
    project.runpytest(*args, "--causal-eval-json", "out.json").assert_outcomes(passed=1, deselected=2)
    data = json.loads((project.path / "out.json").read_text())
    [extra] = [m["extra"] for m in data["measurements"] if m["id"].endswith("test_plain")]
    assert extra["remeasured"] == 2
    assert extra["load"] == {"foreign_share": 0.3, "cpus": 2, "seconds": 3.0}  # 1 s a pass (the fake)


def test_pooled_readings_weigh_the_shares_by_their_seconds() -> None:
    from pytest_causal_eval.measure.load import LoadReading, pooled

    assert pooled({"foreign_share": 0.1, "cpus": 2, "seconds": 1.0}, LoadReading(0.7, 2, 2.0)) == {
        "foreign_share": 0.5,
        "cpus": 2,
        "seconds": 3.0,
    }
    assert pooled(None, LoadReading(0.7, 2, 2.0)) == {"foreign_share": 0.7, "cpus": 2, "seconds": 2.0}
    assert pooled({"foreign_share": "x"}, LoadReading(0.7, 2, 2.0))["foreign_share"] == 0.7


def test_the_terminal_the_markdown_and_the_html_say_it_at_the_top(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted(project, monkeypatch, "0.48")
    result = project.runpytest(
        *ARGS, *PLAIN, "--causal-eval-report", "rep", "--causal-eval-markdown", "verdicts.md"
    )
    result.assert_outcomes(passed=1, deselected=2)
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("---") and "causal-eval" in line)
    # the first section after the tests' progress is the verdicts', and the load line opens it
    assert "causal-eval verdicts" in lines[start], lines[start:]
    assert lines[start + 1].startswith("causal-eval: WARNING 1 time regression(s) measured while other")
    said = "1 inconclusive (foreign load: other processes used 48% of the CPUs during the timed rounds)"
    wrapped = " ".join(line.strip() for line in lines[start + 2 : start + 8])
    assert wrapped.startswith("causal-eval: noisy machine: ") and said in wrapped  # then the table
    markdown = (project.path / "verdicts.md").read_text()
    assert said in markdown and markdown.index(said) < markdown.index("| ")  # under the counts
    page = (project.path / "rep" / "index.html").read_text()
    assert said in page and page.index(said) < page.index("<table")
