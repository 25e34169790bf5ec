"""What ``causal-eval ab`` says about the tests that fail and the measurements it cannot use.

Failing tests are named, for base and head, with the first line of each failure (real git, real
pytest runs); a measurement a run wrote with a bad number (quarantined when its results are read)
is named with the field, instead of passing for "removed" or "new".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_causal_eval.ab.orchestrate import ABPlan, execute
from pytest_causal_eval.ab.report import exit_status, markdown, results_document, terminal_lines
from pytest_causal_eval.cli import main

from .conftest import CONFTEST, FAST_ARGS, WORK, Repo, git, worktree_count

BASE_TESTS = """
from slowpkg.work import work


def test_work(causal_bench):
    causal_bench(work)


def test_base_only():
    raise ValueError("base is off by one\\nand a second line nobody needs")
"""

HEAD_TESTS = """
import pytest

from slowpkg.work import work


def test_work(causal_bench):
    causal_bench(work)


class TestGroup:
    @pytest.mark.parametrize("n", [1, 2])
    def test_p(self, causal_bench, n):
        causal_bench(work)
        assert n == 1, f"n is {n}"


@pytest.fixture
def gpu():
    raise RuntimeError("no GPU here")


def test_needs_gpu(gpu):
    pass
"""


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    path = tmp_path_factory.mktemp("abfail")
    git(path, "init", "-q")
    (path / "slowpkg").mkdir()
    (path / "slowpkg" / "__init__.py").write_text("")
    (path / "slowpkg" / "work.py").write_text(WORK.format(units=1))
    (path / "conftest.py").write_text(CONFTEST)
    (path / "tests").mkdir()
    shas = []
    for body in (BASE_TESTS, HEAD_TESTS):
        (path / "tests" / "test_bench.py").write_text(body)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "tests")
        shas.append(git(path, "rev-parse", "HEAD"))
    return path, shas[0], shas[1]


def test_failing_tests_are_named_with_their_first_line_for_base_and_head(
    failing: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, base, head = failing
    out_json, out_md = tmp_path / "ab.json", tmp_path / "ab.md"
    code = main(
        ["ab", "--repo", str(path), "--base", base, "--head", head, "--rounds", "1", "--extra-rounds", "0",
         "-o", str(out_json), "--markdown", str(out_md), "--", *FAST_ARGS]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    out = captured.out.splitlines()
    base_label, head_label = f"base {base[:10]}", f"head {head[:10]}"
    assert f"note: {head_label}: 2 test(s) failed (listed below; their timings are still compared)" in out
    assert f"note: {base_label}: 1 test(s) failed (listed below; their timings are still compared)" in out
    i = out.index(f"failed tests on {base_label}:")
    assert out[i + 1] == "  FAILED tests/test_bench.py::test_base_only - ValueError: base is off by one"
    i = out.index(f"failed tests on {head_label}:")
    setup_error = 'error: failed on setup with "RuntimeError: no GPU here"'
    assert out[i + 1 : i + 3] == [
        "  FAILED tests/test_bench.py::TestGroup::test_p[2] - AssertionError: n is 2",
        f"  FAILED tests/test_bench.py::test_needs_gpu - {setup_error}",
    ]
    assert "some tests failed" not in captured.out
    # each run's end: elapsed time, measurement count, failed tests
    assert (
        "causal-eval ab:   base done in " in captured.err
        and ": 1 measurement(s), 1 failed test(s)" in captured.err
    )
    assert ": 3 measurement(s), 2 failed test(s)" in captured.err
    md = out_md.read_text()
    assert f"**Failed tests on {head_label}**" in md
    assert "- `tests/test_bench.py::TestGroup::test_p[2]`: AssertionError: n is 2" in md
    assert "- `tests/test_bench.py::test_base_only`: ValueError: base is off by one" in md
    info = json.loads(out_json.read_text())["extra"]["ab"]
    assert info["failed_tests"]["head"] == {
        "tests/test_bench.py::TestGroup::test_p[2]": "AssertionError: n is 2",
        "tests/test_bench.py::test_needs_gpu": setup_error,
    }
    assert worktree_count(path) == 1


def _results_launcher(bad: dict[str, list[int]]):  # type: ignore[no-untyped-def]
    """A launcher writing what a pytest run of another plugin revision could: ``t.py::test_x`` with a
    negative time in the runs of a side listed in ``bad`` (by that side's run number, from 1)."""
    from pytest_causal_eval.results import Measurement, RunResults

    count = {"base": 0, "head": 0}

    def launcher(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        side = cwd.name
        count[side] += 1
        path = next(a.split("=", 1)[1] for a in cmd if a.startswith("--causal-eval-json="))
        ms = [
            Measurement(id=tid, test_id=tid, samples=[0.01] * 10, extra={"passed": True})
            for tid in ("t.py::test_x", "t.py::test_y")
        ]
        doc = RunResults(measurements=ms).to_dict()
        if count[side] in bad.get(side, []):
            doc["measurements"][0]["samples"][3] = -1.0
        Path(path).write_text(json.dumps(doc))
        return 0, ""

    return launcher


def _outcome(repo: Repo, tmp_path: Path, bad: dict[str, list[int]]):  # type: ignore[no-untyped-def]
    plan = ABPlan(base_ref=repo.fast, head_ref=repo.slow, repo=repo.path, extra_rounds=0)
    return execute(plan, launcher=_results_launcher(bad), progress=lambda line: None, workdir=tmp_path)


def test_a_head_measurement_with_a_bad_number_in_every_run_is_named_not_removed(
    repo: Repo, tmp_path: Path
) -> None:
    outcome = _outcome(repo, tmp_path, {"head": [1, 2]})
    assert outcome.judgement.removed == []
    assert outcome.unjudged() == ["t.py::test_x"]
    text = "\n".join(terminal_lines(outcome))
    assert "removed" not in text
    assert (
        f"note: head {repo.slow[:10]}: measurement t.py::test_x has a bad number in every run that measured "
        "it (samples[3] is -1.0: expected a positive number of seconds (1e-12 to 1e+07)); not judged"
    ) in text
    assert "t.py::test_x has a bad number in every run that measured it" in markdown(outcome)
    info = results_document(outcome).extra["ab"]
    assert set(info["quarantined"]["head"]["t.py::test_x"]) == {"1", "2"}
    assert exit_status(outcome) == 1  # a head that cannot be judged does not pass


def test_a_bad_number_in_one_run_is_named_and_the_other_runs_are_pooled(repo: Repo, tmp_path: Path) -> None:
    outcome = _outcome(repo, tmp_path, {"head": [2]})
    x = next(m for m in outcome.judgement.head if m.id == "t.py::test_x")
    assert x.extra["verdict"]["verdict"] == "pass" and x.extra["ab"]["head_runs"] == 1
    text = "\n".join(terminal_lines(outcome))
    assert "t.py::test_x has a bad number in run(s) 2 of that side (samples[3] is -1.0" in text
    assert "pooled over its other runs" in text
    assert exit_status(outcome) == 0


def test_a_base_measurement_with_a_bad_number_is_not_called_new(repo: Repo, tmp_path: Path) -> None:
    outcome = _outcome(repo, tmp_path, {"base": [1, 2]})
    assert outcome.judgement.new == []
    x = next(m for m in outcome.judgement.head if m.id == "t.py::test_x")
    assert (
        x.extra["verdict"]["message"]
        == f"not compared: base {repo.fast[:10]} has a bad number for it in every run"
    )
    text = "\n".join(terminal_lines(outcome))
    assert "only on the head (new)" not in text
    assert (
        f"base {repo.fast[:10]}: measurement t.py::test_x has a bad number in every run that measured it"
        in text
    )
    assert exit_status(outcome) == 0


def test_junit_failures_rebuild_node_ids_and_keep_the_first_line(tmp_path: Path) -> None:
    from pytest_causal_eval.ab.runner import junit_failures

    report = tmp_path / "junit.xml"
    report.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="suites.sub.test_m.TestA.TestB" name="test_x[a.b-1]" file="suites/sub/test_m.py"
            line="3"><failure message="assert 1 == 2&#10; +  where 1 = f()">long text</failure></testcase>
  <testcase classname="suites.test_n" name="test_y" file="suites/test_n.py" line="9"><failure message="">
Traceback (most recent call last):
ValueError: no message attribute</failure></testcase>
  <testcase classname="docs" name="README.txt" file="docs/README.txt" line="1">
    <error message="oops"/></testcase>
  <testcase classname="suites.test_n" name="test_ok" file="suites/test_n.py" line="12"/>
</testsuite></testsuites>"""
    )
    assert junit_failures(report) == {
        "suites/sub/test_m.py::TestA::TestB::test_x[a.b-1]": "assert 1 == 2",
        "suites/test_n.py::test_y": "ValueError: no message attribute",
        "docs::README.txt": "error: oops",
    }
    assert junit_failures(tmp_path / "missing.xml") == {}
    (tmp_path / "bad.xml").write_text("<testsuites><testcase")
    assert junit_failures(tmp_path / "bad.xml") == {}
