"""What the HTML report and the Markdown say after a gated run: every metric that did not pass on a
line of its own with both medians, the gate's warnings, absolute links only in the Markdown."""

from __future__ import annotations

import pytest

from pytest_causal_eval.report.attention import machine_note, metric_lines
from pytest_causal_eval.report.markdown import render_markdown
from pytest_causal_eval.report.verdicts import verdict_rows
from pytest_causal_eval.results import Measurement

from .runargs import ARGS


def test_two_failing_metrics_each_get_a_line_with_both_medians(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.runpytest(*ARGS, "--causal-eval-save", "-k", "accuracy").assert_outcomes(passed=1, deselected=2)
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.5")
    monkeypatch.setenv("FAKE_ACCURACY", "0.70")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    result = project.runpytest(*ARGS, "-k", "accuracy", "--causal-eval-markdown=out/verdicts.md")
    result.assert_outcomes(failed=1, deselected=2)
    markdown = (project.path / "out" / "verdicts.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    time_row = next(r for r in rows if "| time |" in r)
    accuracy_row = next(r for r in rows if "| accuracy |" in r)
    assert "p10 1.47 ms vs 987 us" in time_row and "regressed" in time_row
    assert "accuracy 0.7 vs 0.85" in accuracy_row and "regressed" in accuracy_row
    # links: the run and its artifacts, never a relative path (a PR comment cannot resolve one)
    run = "https://github.example/org/repo/actions/runs/42"
    assert f"[workflow run]({run})" in markdown
    assert "](../" not in markdown and "](.causal-eval" not in markdown
    html = (project.path / ".causal-eval" / "report" / "index.html").read_text()
    needs = html.split("<h2>Needs a look</h2>")[1].split("</ul>")[0]
    assert "p10 1.47 ms vs baseline 987 us: +" in needs
    assert "accuracy 0.7 vs baseline 0.85: -15.0pts" in needs
    assert html.count('<tr class="sub row-regressed">') == 1


def test_the_gates_warnings_reach_the_html_and_the_markdown(project: pytest.Pytester) -> None:
    project.runpytest(*ARGS, "--causal-eval-save").assert_outcomes(passed=3)
    [saved] = (project.path / "baselines").glob("*.json")
    saved.rename(saved.with_name("linux-other-machine.json"))
    result = project.runpytest(*ARGS, "--causal-eval-markdown=verdicts.md")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["causal-eval: warning: no baseline for this machine*"])
    assert "warning: no baseline for this machine" in (project.path / "verdicts.md").read_text()
    html = (project.path / ".causal-eval" / "report" / "index.html").read_text()
    assert "warning: no baseline for this machine" in html.split("</header>")[0]


def _m(mid: str, noisy: bool, record: dict[str, object] | None = None) -> Measurement:
    m = Measurement(id=mid, test_id=mid, samples=[0.001] * 5, iterations=1)
    m.extra["health"] = {"noisy": noisy, "reasons": ["load average 3.85 on 2 CPU(s) (other work: 2.85)"]}
    if record is not None:
        m.extra["verdict"] = record
    return m


def test_the_noisy_machine_is_said_first_with_what_was_seen() -> None:
    foreign = {"verdict": "inconclusive", "metric": "time", "reason": "foreign load", "all": []}
    ms = [_m("a", True), _m("b", False, foreign), _m("c", False)]
    note = machine_note(ms, {"noisy": False})
    assert note.startswith(
        "noisy machine: 1 of 3 measurement(s) taken under load, 1 inconclusive (foreign load)"
    )
    assert "seen: load average 3.85 on 2 CPU(s) (other work: 2.85)" in note
    assert machine_note([_m("c", False)], {"noisy": False}) == ""
    text = render_markdown(verdict_rows(ms), machine=note)
    lines = text.splitlines()
    said = lines.index(f"> ⚠️ **{note}**")
    assert said == lines.index("**1** inconclusive") + 2  # right under the counts
    assert said < min(i for i, line in enumerate(lines) if line.startswith("|"))


def test_metric_lines_give_every_non_passing_metric() -> None:
    record = {
        "verdict": "pass",
        "metric": "time",
        "change": 0.02,
        "threshold": "10%",
        "baseline_median": 0.0159,
        "candidate_median": 0.0162,
        "all": [
            {"metric": "time", "verdict": "pass", "change": 0.02},
            {
                "metric": "alloc_count",
                "verdict": "regressed",
                "change": 0.57,
                "threshold": "10%",
                "baseline_median": 188289.0,
                "candidate_median": 295525.0,
                "unit": "",
            },
        ],
    }
    from pytest_causal_eval.report.attention import format_metric_change

    lines = metric_lines(record)
    assert [format_metric_change(line) for line in lines] == ["alloc_count 295525 vs baseline 188289: +57.0%"]
