"""End to end through pytester: what an enabled run writes (history, HTML, Markdown, Prometheus)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

CONFTEST = (
    FAKE_CLOCK_SOURCE
    + """
import os

STEP = [0]


@pytest.fixture
def work():
    slowdown = float(os.environ.get("FAKE_SLOWDOWN", "1.0"))

    def run():
        STEP[0] += 1
        CLOCK.now += int(1_000_000 * slowdown * (1 + 0.01 * (STEP[0] % 5)))

    return run
"""
)

TESTS = """
import pytest


@pytest.mark.parametrize("size", [1, 2], ids=["<script>alert(1)</script>", "plain"])
def test_eval(causal_bench, work, size):
    causal_bench(work)
    causal_bench.record("accuracy", 0.75, better="higher")
"""

FAST = ("-p", "no:cacheprovider", "--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-rounds=12")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def body_rows(html: str) -> int:
    return html.split("<tbody>")[1].split("</tbody>")[0].count("<tr")


def history_runs(path: Path) -> list[tuple[int, int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT r.id, COUNT(m.benchmark) FROM runs r JOIN measurements m ON m.run_id = r.id GROUP BY r.id"
        ).fetchall()
    finally:
        conn.close()


def test_an_enabled_run_writes_every_report_asked_for(project: pytest.Pytester) -> None:
    result = project.runpytest(
        *FAST,
        "--causal-eval-report=rep",
        "--causal-eval-markdown=out/verdicts.md",
        "--causal-eval-prometheus=metrics.prom",
        "--causal-eval-json=results.json",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*causal-eval reports*", "HTML report: rep/index.html", "Prometheus metrics: metrics.prom"]
    )
    html = (project.path / "rep" / "index.html").read_text()
    assert body_rows(html) == 2
    assert "test_suite.py::test_eval[&lt;script&gt;alert(1)&lt;/script&gt;]" in html
    assert "<script>" not in html
    assert "accuracy" in html and "0.75" in html
    markdown = (project.path / "out" / "verdicts.md").read_text()
    assert markdown.startswith("<!-- causal-eval-report -->\n")
    assert "](" not in markdown  # off GitHub Actions: no link (a relative one cannot resolve in a PR comment)
    prom = (project.path / "metrics.prom").read_text()
    assert (
        'causal_eval_metric{benchmark="test_suite.py::test_eval[plain]",metric="accuracy",unit=""} 0.75'
        in prom
    )
    assert history_runs(project.path / ".causal-eval" / "history.sqlite") == [(1, 2)]
    extra = json.loads((project.path / "results.json").read_text())["extra"]
    assert extra["history"] == {"database": ".causal-eval/history.sqlite", "run_id": 1}
    assert extra["html_report"] == "rep/index.html"


def test_defaults_record_history_and_write_the_html_report(project: pytest.Pytester) -> None:
    project.runpytest(*FAST).assert_outcomes(passed=2)
    result = project.runpytest(*FAST)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*causal-eval reports*", "HTML report: .causal-eval/report/index.html"])
    assert sorted(p.name for p in (project.path / ".causal-eval").iterdir()) == ["history.sqlite", "report"]
    assert body_rows((project.path / ".causal-eval" / "report" / "index.html").read_text()) == 2
    assert history_runs(project.path / ".causal-eval" / "history.sqlite") == [(1, 2), (2, 2)]


def test_report_off_writes_no_html(project: pytest.Pytester) -> None:
    result = project.runpytest(*FAST, "--causal-eval-report=off")
    result.assert_outcomes(passed=2)
    assert sorted(p.name for p in (project.path / ".causal-eval").iterdir()) == ["history.sqlite"]
    assert "HTML report" not in result.stdout.str()


def test_history_off_and_plugin_off_write_nothing(project: pytest.Pytester) -> None:
    project.runpytest(*FAST, "--causal-eval-history=off", "--causal-eval-report=off").assert_outcomes(
        passed=2
    )
    assert not (project.path / ".causal-eval").exists()
    project.makeini("[pytest]\ncausal_eval_report = rep\ncausal_eval_prometheus = m.prom\n")
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    names = sorted(p.name for p in project.path.iterdir() if p.name != ".benchmarks")  # pytest-benchmark's
    assert names == ["conftest.py", "test_suite.py", "tox.ini"]


def test_a_corrupt_history_is_reported_moved_aside_and_restarted(project: pytest.Pytester) -> None:
    db = project.path / "hist" / "h.sqlite"
    db.parent.mkdir()
    db.write_bytes(b"\x00garbage, not SQLite" * 50)
    result = project.runpytest(*FAST, f"--causal-eval-history={db}")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"causal-eval: error: history database {db} was unreadable; moved it to {db}.corrupt-*"]
    )
    (moved,) = db.parent.glob("h.sqlite.corrupt-*")
    assert moved.read_bytes() == b"\x00garbage, not SQLite" * 50
    assert history_runs(db) == [(1, 2)]


def test_bad_history_option_is_a_usage_error(project: pytest.Pytester) -> None:
    (project.path / "adir").mkdir()
    result = project.runpytest(*FAST, "--causal-eval-history=adir")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--causal-eval-history: 'adir' is a directory, expected a file path (or off*"]
    )


def test_regression_is_marked_with_baseline_distribution_and_trend(project: pytest.Pytester) -> None:
    project.runpytest(*FAST, "--causal-eval-save").assert_outcomes(passed=2)
    project.runpytest(*FAST).assert_outcomes(passed=2)
    project.runpytest(*FAST).assert_outcomes(passed=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAKE_SLOWDOWN", "1.5")
        result = project.runpytest(
            *FAST, "--causal-eval-report=rep", "--causal-eval-profile-on-regression=no"
        )
    result.assert_outcomes(passed=0, failed=2)
    html = (project.path / "rep" / "index.html").read_text()
    assert html.count('<tr class="row-regressed">') == 2
    assert html.count("baseline: median 1.0") == 2  # baseline boxes from the baseline file
    assert html.count('<polyline class="ln"') == 2  # trends from the history: 4 runs each
    assert "history: 4 run(s) on this machine" in html


def test_xdist_controller_alone_writes_history(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST, "-n", "2", "--causal-eval-report=rep")
    result.assert_outcomes(passed=2)
    assert history_runs(project.path / ".causal-eval" / "history.sqlite") == [(1, 2)]
    assert body_rows((project.path / "rep" / "index.html").read_text()) == 2


def _poison_baseline_samples(project: pytest.Pytester) -> None:
    """What a hand edit or a damaged file leaves: NaN and Infinity among a baseline's raw samples."""
    (path,) = (project.path / "baselines").glob("*.json")
    text = path.read_text()
    data = json.loads(text)
    poisoned = 0
    for entry in data["measurements"].values():
        samples = entry["time"]["samples"]
        entry["time"]["samples"] = ["@NaN", samples[0], "@Infinity", samples[1], "@-Infinity"]
        poisoned += 1
    assert poisoned == 2
    text = json.dumps(data, indent=2)
    for word in ("NaN", "Infinity", "-Infinity"):
        text = text.replace(f'"@{word}"', word)
    path.write_text(text)


def test_non_finite_baseline_samples_cost_no_output(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.runpytest(*FAST, "--causal-eval-save").assert_outcomes(passed=2)
    _poison_baseline_samples(project)
    summary = project.path / "step-summary.md"
    summary.write_text("")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.runpytest(
        *FAST,
        "-W",
        "ignore::RuntimeWarning",  # numpy's "invalid value" on the poisoned side: this test is about outputs
        "--causal-eval-report=rep",
        "--causal-eval-markdown=verdicts.md",
        "--causal-eval-prometheus=metrics.prom",
        "--causal-eval-json=results.json",
    )
    text = result.stdout.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text
    assert "cannot convert float NaN" not in text
    assert "could not" not in text and "failed at the end of the run" not in text  # every output written
    html = (project.path / "rep" / "index.html").read_text()
    assert body_rows(html) == 2
    assert "causal-eval: performance verdicts" in (project.path / "verdicts.md").read_text()
    assert summary.read_text().startswith("<!-- causal-eval-report -->")
    assert "causal_eval_time_seconds" in (project.path / "metrics.prom").read_text()
    results = json.loads((project.path / "results.json").read_text())
    assert len(results["measurements"]) == 2
    assert history_runs(project.path / ".causal-eval" / "history.sqlite") == [(1, 2), (2, 2)]
    result.stdout.fnmatch_lines(["*causal-eval verdicts*", "verdicts: *"])


def test_each_output_is_written_on_its_own(project: pytest.Pytester) -> None:
    """A consumer of the results that raises and an output that cannot be written cost nothing else."""
    project.makeconftest(
        CONFTEST
        + """

@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_session_results(config, results):
    raise RuntimeError("boom\\nsecond line")
"""
    )
    project.runpytest(*FAST, "--causal-eval-save").assert_outcomes(passed=2)
    (project.path / "rep" / "index.html").mkdir(parents=True)  # a directory where the page should go
    result = project.runpytest(
        *FAST,
        "--causal-eval-report=rep",
        "--causal-eval-markdown=verdicts.md",
        "--causal-eval-prometheus=metrics.prom",
        "--causal-eval-json=results.json",
    )
    result.assert_outcomes(passed=2)
    text = result.stdout.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text and "second line" not in text
    result.stdout.fnmatch_lines(
        [
            "*causal-eval verdicts*",  # the verdicts come first, then the outputs
            "verdicts: 2 pass",
            "*causal-eval reports*",
            "causal-eval: error: could not write the HTML report under rep: *Is a directory*",
            "causal-eval: error: *conftest.py failed at the end of the run: RuntimeError: boom",
        ]
    )
    markdown = (project.path / "verdicts.md").read_text()
    assert "**2** pass" in markdown and "HTML report" not in markdown  # no link to a page that failed
    assert "causal_eval_time_seconds" in (project.path / "metrics.prom").read_text()
    results = json.loads((project.path / "results.json").read_text())
    assert len(results["measurements"]) == 2
    (error,) = results["extra"]["errors"]
    assert error.endswith("conftest.py failed at the end of the run: RuntimeError: boom")
    assert [n for _, n in history_runs(project.path / ".causal-eval" / "history.sqlite")] == [2, 2]
