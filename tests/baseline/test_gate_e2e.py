"""Save, then compare, through pytester with a fake clock: what a user sees."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .runargs import ARGS


def save(pytester: pytest.Pytester, *extra: str, passed: int = 3) -> pytest.RunResult:
    result = pytester.runpytest(*ARGS, "--causal-eval-save", *extra)
    result.assert_outcomes(passed=passed, deselected=3 - passed)
    return result


def baseline_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "baselines").glob("*.json"))


def results(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    data = json.loads((pytester.path / "out.json").read_text())
    return {m["id"].split("::")[-1]: m["extra"] for m in data["measurements"]}


def test_save_then_same_code_passes(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = save(project)
    result.stdout.fnmatch_lines(["*baseline saved: 3 measurement(s) to *baselines*.json"])
    [path] = baseline_files(project)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1
    assert set(doc["measurements"]) == {f"test_gate.py::test_{n}" for n in ("plain", "lenient", "accuracy")}
    assert doc["machine"]["key"] == path.stem
    monkeypatch.setenv("FAKE_SEED", "2")
    result = project.runpytest(*ARGS, "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*verdicts: 3 pass*"])
    extras = results(project)
    for extra in extras.values():
        assert extra["verdict"]["verdict"] == "pass"
        assert {"cv", "mdc"} <= set(extra["noise"])
    assert result.ret == 0


def test_regression_fails_the_test_with_numbers_and_explanation(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(project)
    monkeypatch.setenv("FAKE_SEED", "3")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = project.runpytest(*ARGS, "--causal-eval-json", "out.json", "--causal-eval-markdown", "gate.md")
    result.assert_outcomes(passed=1, failed=2)  # test_lenient has a 50% threshold
    result.stdout.fnmatch_lines(
        [
            "*p10 1.2? ms vs baseline 98? us: +3?.?% (95% CI +*%..+*%) > 10% threshold"
            " [[]causal-eval: regressed[]]",
            "*explained: baseline has 200 samples*",
        ]
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*verdicts: 2 regressed, 1 pass*"])
    extras = results(project)
    verdict = extras["test_plain"]["verdict"]
    assert verdict["verdict"] == "regressed"
    assert 0.25 < verdict["change"] < 0.35
    assert verdict["threshold"] == "10%"
    assert extras["test_lenient"]["verdict"]["verdict"] == "pass"
    markdown = (project.path / "gate.md").read_text()
    assert "| `test_gate.py::test_plain` | ❌ regressed | time |" in markdown
    assert "<details>" in markdown
    # a compare run never rewrites the baseline
    [path] = baseline_files(project)
    assert (
        json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]["time"]["summary"]["median"]
        < 1.1e-3
    )


def test_a_slow_spell_over_most_rounds_is_not_a_regression(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same code, but a spell 1.5x slower covers 60% of the rounds: the median moved by +50%, the
    fast tenth the gate compares did not."""
    save(project, "-k", "plain", passed=1)
    monkeypatch.setenv("FAKE_SEED", "6")
    monkeypatch.setenv("FAKE_SPELL", "0.6,1.5")
    result = project.runpytest(*ARGS, "-k", "plain", "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*verdicts: 1 pass*"])
    extra = results(project)["test_plain"]
    verdict = extra["verdict"]
    assert verdict["verdict"] == "pass"
    assert verdict["statistic"] == "p10"
    assert fnmatch(verdict["message"], "p10 9?? us vs baseline 9?? us: *within the 10% threshold")
    assert "block bootstrap of the p10 ratio" in verdict["method"]
    assert abs(verdict["change"]) < 0.05
    assert json.loads((project.path / "out.json").read_text())["measurements"][0]["stats"]["median"] > 1.4e-3


def test_a_regression_is_caught_through_a_slow_spell_in_the_saving_session(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline was saved while a spell 1.5x slower covered 60% of its rounds (its median reads
    1.5 ms); then the code gets 15% slower. Judged at the median that is a 23% speed-up; the fast
    tenth sees the +15%."""
    monkeypatch.setenv("FAKE_SPELL", "0.6,1.5")
    save(project, "-k", "plain", passed=1)
    monkeypatch.delenv("FAKE_SPELL")
    monkeypatch.setenv("FAKE_SEED", "7")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.15")
    result = project.runpytest(*ARGS, "-k", "plain", "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["*p10 1.1? ms vs baseline 99? us: +1?.?% (95% CI *) > 10% threshold*"])
    verdict = results(project)["test_plain"]["verdict"]
    assert verdict["verdict"] == "regressed"
    assert 0.12 < verdict["change"] < 0.18


def test_a_spell_over_a_whole_pass_is_not_a_regression_when_a_fresh_pass_is_fast(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every round of the first pass falls in a spell 1.5x slower (no statistic of that pass can
    tell it from a regression); the fresh pass the gate measures before failing is fast: a pass."""
    save(project, "-k", "plain", passed=1)
    monkeypatch.setenv("FAKE_SEED", "8")
    monkeypatch.setenv("FAKE_SPELL_FIRST", "150,1.5")
    args = (*ARGS, "-k", "plain", "--causal-eval-json", "out.json")
    result = project.runpytest(*args)
    result.assert_outcomes(passed=1, deselected=2)
    extra = results(project)["test_plain"]
    assert extra["verdict"]["verdict"] == "pass"
    confirmed = extra["confirmed"]
    assert confirmed["passes"] == 2 and confirmed["kept"] == 1
    assert confirmed["changes"][0] > 0.4 and abs(confirmed["changes"][1]) < 0.05
    assert abs(extra["verdict"]["change"]) < 0.05
    # with the fresh pass turned off, the spell decides
    monkeypatch.setenv("FAKE_SEED", "8")
    result = project.runpytest(*args, "--causal-eval-confirm", "0")
    result.assert_outcomes(failed=1, deselected=2)
    assert "confirmed" not in results(project)["test_plain"]


def test_a_real_regression_shows_in_every_pass_and_fails(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(project, "-k", "plain", passed=1)
    monkeypatch.setenv("FAKE_SEED", "9")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_SPELL_FIRST", "150,1.2")  # the first pass even slower
    result = project.runpytest(*ARGS, "-k", "plain", "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1, deselected=2)
    extra = results(project)["test_plain"]
    assert extra["verdict"]["verdict"] == "regressed"
    assert extra["confirmed"]["kept"] == 1  # the faster pass gives the numbers
    assert 0.25 < extra["verdict"]["change"] < 0.35


def test_a_slower_fresh_pass_leaves_the_first_pass_s_rounds_and_numbers(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real +30%, and the fresh pass falls in a spell: the first, faster pass is kept, its rounds
    restored on the measurement and its numbers in the verdict."""
    save(project, "-k", "plain", passed=1)
    monkeypatch.setenv("FAKE_SEED", "11")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    monkeypatch.setenv("FAKE_SPELL_AFTER", "160,1.5")
    result = project.runpytest(*ARGS, "-k", "plain", "--causal-eval-json", "out.json")
    result.assert_outcomes(failed=1, deselected=2)
    [m] = json.loads((project.path / "out.json").read_text())["measurements"]
    confirmed, verdict = m["extra"]["confirmed"], m["extra"]["verdict"]
    assert confirmed["passes"] == 2 and confirmed["kept"] == 0
    assert confirmed["changes"][1] > confirmed["changes"][0] + 0.2
    assert 0.25 < verdict["change"] < 0.35
    assert verdict["candidate_median"] == pytest.approx(float(np.quantile(m["samples"], 0.10)), rel=1e-9)
    assert max(m["samples"]) < 1.45e-3  # none of the fresh pass's rounds


def test_a_save_keeps_its_fastest_pass(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving session's first pass falls in a spell; the save measures again and stores the
    fast pass, so a later +15% is caught instead of reading as a speed-up."""
    monkeypatch.setenv("FAKE_SPELL_FIRST", "150,1.5")
    save(project, "-k", "plain", passed=1)
    [path] = baseline_files(project)
    stored = json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]["time"]
    assert stored["summary"]["median"] < 1.05e-3
    monkeypatch.delenv("FAKE_SPELL_FIRST")
    monkeypatch.setenv("FAKE_SEED", "10")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.15")
    result = project.runpytest(*ARGS, "-k", "plain")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["*p10 1.1? ms vs baseline 9?? us: +1?.?% *> 10% threshold*"])


def test_custom_metric_threshold_in_points(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    save(project)
    monkeypatch.setenv("FAKE_SEED", "4")
    monkeypatch.setenv("FAKE_ACCURACY", "0.82")
    result = project.runpytest(*ARGS)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*accuracy 0.82 vs baseline 0.85: -3.0pts (95% CI *) beyond -2pts threshold (higher is better)*"]
    )
    monkeypatch.setenv("FAKE_ACCURACY", "0.84")
    project.runpytest(*ARGS).assert_outcomes(passed=3)


def test_wild_noise_is_inconclusive_warns_and_strict_fails(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NOISE", "0.6")
    save(project, "--causal-eval-max-rounds", "8")
    monkeypatch.setenv("FAKE_SEED", "5")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.12")
    args = (*ARGS, "--causal-eval-max-rounds", "8", "-k", "plain")
    result = project.runpytest(*args, "--causal-eval-json", "out.json")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(
        ["*verdicts: 1 inconclusive*", "*test_plain*", "*inconclusive*time*re-measured x2*"]
    )
    extra = results(project)["test_plain"]
    assert extra["verdict"]["verdict"] == "inconclusive"
    assert extra["remeasured"] == 2
    monkeypatch.setenv("FAKE_SEED", "5")
    strict = project.runpytest(*args, "--causal-eval-strict", "--causal-eval-remeasure", "0")
    strict.assert_outcomes(failed=1, deselected=2)
    strict.stdout.fnmatch_lines(
        ["*test_plain inconclusive (--causal-eval-strict)", "*median * vs baseline *too noisy to decide*"]
    )


def test_bad_baseline_file_is_reported_and_kept(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(project)
    [path] = baseline_files(project)
    path.write_text(path.read_text()[:100])  # truncated
    monkeypatch.setenv("FAKE_SLOWDOWN", "2.0")
    result = project.runpytest(*ARGS)
    result.assert_outcomes(passed=3)  # no comparison against an unusable file
    result.stdout.fnmatch_lines([f"*causal-eval: error: baseline file {path}: is not valid JSON*"])
    assert len(path.read_text()) == 100
    monkeypatch.delenv("FAKE_SLOWDOWN")
    save(project)
    assert json.loads(path.read_text())["schema_version"] == 1
    assert path.with_name(path.name + ".unreadable").read_text().startswith("{")


def test_baseline_from_another_machine_is_refused(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(project)
    [path] = baseline_files(project)
    doc = json.loads(path.read_text())
    doc["machine"]["hard"]["cpu_model"] = "Some Other CPU"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv("FAKE_SLOWDOWN", "2.0")
    result = project.runpytest(*ARGS)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*refusing to compare with*different machine (cpu_model: *Some Other CPU*"])
    forced = project.runpytest(*ARGS, "--causal-eval-machine", path.stem)
    forced.assert_outcomes(failed=3)
    forced.stdout.fnmatch_lines(["*comparing across machines by request: cpu_model*"])


def test_new_measurements_and_kept_entries(project: pytest.Pytester) -> None:
    save(project, "-k", "plain", passed=1)
    result = project.runpytest(*ARGS)
    result.stdout.fnmatch_lines(["*verdicts: 1 pass, 2 new*"])
    save(project, "-k", "lenient", passed=1)
    [path] = baseline_files(project)
    assert len(json.loads(path.read_text())["measurements"]) == 2


def test_failing_tests_are_not_saved(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fail="""
        def test_broken(causal_bench, work):
            causal_bench(work)
            assert False
        """
    )
    result = project.runpytest(*ARGS, "--causal-eval-save")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*baseline saved: 3 measurement(s)*(1 failing measurement(s) not saved)*"])


def test_github_step_summary_is_appended(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    save(project)
    project.runpytest(*ARGS).assert_outcomes(passed=3)
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "## causal-eval: performance verdicts" in text


def test_bad_marker_and_option_values(project: pytest.Pytester) -> None:
    result = project.runpytest(*ARGS, "--causal-eval-threshold", "2pts")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-threshold: expected a percentage*"])
    save(project)
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.causal_eval(metric_thresholds={"accuracy": "lots"})
        def test_m(causal_bench, work):
            causal_bench(work)
        """
    )
    result = project.runpytest(*ARGS, "test_marker.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # at collection, naming the test and the key
    result.stderr.fnmatch_lines(
        [
            "*test_marker.py::test_m: @pytest.mark.causal_eval(metric_thresholds=...): {'accuracy': ...}: "
            "expected a threshold*"
        ]
    )


def test_inert_without_the_flag(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert not (project.path / "baselines").exists()


def test_a_different_gpu_is_not_compared(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + """

@pytest.hookimpl(trylast=True)
def pytest_causal_eval_after_measure(item, measurement, workload):
    measurement.extra["gpu"] = {"name": os.environ.get("FAKE_GPU", "GPU A"), "cuda": "12.4", "cudnn": 90100}
"""
    )
    save(project)
    [path] = baseline_files(project)
    assert json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]["gpu"]["name"] == "GPU A"
    monkeypatch.setenv("FAKE_GPU", "GPU B")
    monkeypatch.setenv("FAKE_SLOWDOWN", "2.0")
    result = project.runpytest(*ARGS)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["*not compared: the baseline was measured on another GPU (name: 'GPU A' vs 'GPU B')*"]
    )


@pytest.mark.slow
def test_under_xdist_workers_judge_and_the_controller_saves_once(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = project.runpytest(*ARGS, "-n", "2", "--causal-eval-save")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*baseline saved: 3 measurement(s)*"])
    [path] = baseline_files(project)
    assert len(json.loads(path.read_text())["measurements"]) == 3
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = project.runpytest(*ARGS, "-n", "2")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*verdicts: 2 regressed, 1 pass*"])
    assert result.ret == 1


def test_interrupted_run_saves_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_zz_interrupt="""
        def test_stop(causal_bench, work):
            causal_bench(work)
            raise KeyboardInterrupt
        """
    )
    result = project.runpytest_subprocess(*ARGS, "--causal-eval-save")  # in-process re-raises Ctrl-C
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*the run was interrupted: the baseline was not saved*"])
    assert baseline_files(project) == []


def test_a_measurement_with_every_threshold_off_passes_as_not_gated(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        test_off="""
import pytest


@pytest.mark.causal_eval(threshold="off")
def test_ungated(causal_bench, work):
    causal_bench(work)
"""
    )
    project.runpytest(*ARGS, "--causal-eval-save", "test_off.py").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_SLOWDOWN", "3")  # three times slower: nothing is gated, nothing fails
    result = project.runpytest(*ARGS, "--causal-eval-json", "out.json", "test_off.py")
    result.assert_outcomes(passed=1)
    verdict = results(project)["test_ungated"]["verdict"]
    assert verdict["verdict"] == "pass"  # not "new": the baseline has it
    assert verdict["message"] == "not gated: every metric's threshold is off"
    result.stdout.fnmatch_lines(["*verdicts: 1 pass*"])


def test_saving_sessions_of_one_commit_teach_the_gate_their_drift(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitrepo import git

    git(project.path, "init", "-q")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-qm", "suite")
    for i, slowdown in enumerate(("1.0", "1.12", "0.9")):  # the same code, three sessions apart
        monkeypatch.setenv("FAKE_SLOWDOWN", slowdown)
        save(project, "-k", "plain", passed=1)
        if i == 0:  # committing the baseline makes a new commit, not new code
            git(project.path, "add", "baselines")
            git(project.path, "commit", "-qm", "baselines")
    [path] = baseline_files(project)
    entry = json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]
    codes = [s["code"] for s in entry["time"]["sessions"]]
    assert codes[0].startswith("tree:") and codes == [codes[0]] * 3
    assert [round(s["median"] * 1e3, 2) for s in entry["time"]["sessions"]] == [1.0, 1.12, 0.9]
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.2")  # +33% against the last save: within that drift
    result = project.runpytest(*ARGS, "--causal-eval-json", "out.json", "-k", "plain")
    result.assert_outcomes(passed=1, deselected=2)  # inconclusive warns, it does not fail
    verdict = results(project)["test_plain"]["verdict"]
    assert verdict["verdict"] == "inconclusive"
    assert "learned from 3 saving sessions of the same code" in verdict["method"]
    # an uncommitted change to the code: that session's code has no name and pairs with nothing
    (project.path / "test_gate.py").write_text((project.path / "test_gate.py").read_text() + "\n# edit\n")
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.0")
    save(project, "-k", "plain", passed=1)
    entry = json.loads(path.read_text())["measurements"]["test_gate.py::test_plain"]
    assert [s["code"] for s in entry["time"]["sessions"]] == [codes[0]] * 3 + [""]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--causal-eval-confirm=4",), "--causal-eval-confirm"),
        (("--causal-eval-confirm", "two"), "--causal-eval-confirm"),
        (("-o", "causal_eval_confirm=-1"), "causal_eval_confirm"),
    ],
)
def test_a_bad_number_of_confirming_passes_is_a_usage_error(
    project: pytest.Pytester, args: tuple[str, ...], named: str
) -> None:
    result = project.runpytest(*ARGS, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{named}*expected a number of fresh measuring passes from 0 to 3*"])
    assert "Traceback" not in result.stderr.str()
