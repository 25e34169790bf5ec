"""``causal-eval compare`` applies the gate's foreign-load rule to the load a results file recorded
(planted in the files: ``extra['load']`` of each measurement, as the session writes it)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main

from .test_baseline_cli import run_file

BUSY = (
    "t.py::a: inconclusive: p10 1.2? ms vs baseline 1.0? ms: +25.0% (95% CI *) > 10% threshold, but "
    "other processes used 60% of 2 CPUs during the timed rounds (limit 25%, --max-foreign-load): inconclusive"
)


def loaded(path: Path, share: float) -> Path:
    """The results file with every measurement read at ``share`` foreign load over 1 s."""
    doc = json.loads(path.read_text())
    for m in doc["measurements"]:
        m.setdefault("extra", {})["load"] = {"foreign_share": share, "cpus": 2, "seconds": 1.0}
    path.write_text(json.dumps(doc))
    return path


def test_a_regression_measured_under_load_is_inconclusive_and_said_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run_file(tmp_path / "a.json")
    slow = loaded(run_file(tmp_path / "slow.json", scale=1.25), 0.6)
    md = tmp_path / "out.md"
    assert main(["compare", str(a), str(slow), "--markdown", str(md)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "causal-eval: WARNING 2 time regression(s) measured while other processes used 60% of the CPUs "
        "are inconclusive, not failed (--strict fails them): t.py::a, t.py::b"
    )
    assert lines[1].startswith("causal-eval: noisy machine: 2 inconclusive (foreign load: other processes")
    assert any(line.startswith("verdicts: 2 inconclusive") for line in lines)
    assert any(fnmatch.fnmatchcase(line, BUSY) for line in lines), lines
    text = md.read_text()
    # the Markdown says it right under the counts
    assert text.index("2 inconclusive (foreign load: other processes used 60% of the CPUs") < text.index("| ")
    assert main(["compare", str(a), str(slow), "--strict"]) == 1
    assert "are inconclusive, failed (--strict)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("share", "option"), [(0.2, ()), (0.6, ("--max-foreign-load=off",)), (0.6, ("--max-foreign-load", "70%"))]
)
def test_a_quiet_run_or_a_limit_off_or_above_the_share_still_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], share: float, option: tuple[str, ...]
) -> None:
    a = run_file(tmp_path / "a.json")
    slow = loaded(run_file(tmp_path / "slow.json", scale=1.25), share)
    assert main(["compare", str(a), str(slow), *option]) == 1
    out = capsys.readouterr().out
    assert "verdicts: 2 regressed" in out and "time regression(s) measured while" not in out


def test_a_bad_limit_is_a_usage_error_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run_file(tmp_path / "a.json")
    assert main(["compare", str(a), str(a), "--max-foreign-load", "lots"]) == 2
    assert "--max-foreign-load: expected off or a percentage of the CPUs such as 25%, got 'lots'" in (
        capsys.readouterr().err
    )


def test_a_baseline_run_measured_under_load_says_it_may_be_slow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = loaded(run_file(tmp_path / "a.json", scale=1.25), 0.6)
    same = run_file(tmp_path / "same.json", scale=1.25)
    assert main(["compare", str(a), str(same)]) == 0
    assert "verdicts: 2 pass" in capsys.readouterr().out
    b = run_file(tmp_path / "b.json", scale=1.6)  # +28% against a busy baseline
    assert main(["compare", str(a), str(b)]) == 1
    assert fnmatch.fnmatchcase(
        capsys.readouterr().out,
        "*t.py::a: regressed: p10 1.6? ms vs baseline 1.2? ms (measured while other processes used 60% "
        "of the CPUs: it may be slow): +28.0%*",
    )


@pytest.mark.parametrize(("recorded", "code"), [("off", 1), ("70%", 1), ("25%", 0), (None, 0)])
def test_the_limit_run_b_recorded_is_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: str | None, code: int
) -> None:
    a = run_file(tmp_path / "a.json")
    slow = loaded(run_file(tmp_path / "slow.json", scale=1.25), 0.6)
    doc = json.loads(slow.read_text())
    if recorded is not None:  # what the session's --causal-eval-max-foreign-load (or ini) was
        doc.setdefault("extra", {})["baseline"] = {"max_foreign_load": recorded}
    slow.write_text(json.dumps(doc))
    assert main(["compare", str(a), str(slow)]) == code
    assert main(["compare", str(a), str(slow), "--max-foreign-load", "25%"]) == 0  # the option wins


def test_a_bad_recorded_limit_is_named_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = run_file(tmp_path / "a.json")
    doc = json.loads(a.read_text())
    doc.setdefault("extra", {})["baseline"] = {"max_foreign_load": "busy"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["compare", str(a), str(bad)]) == 2
    assert f"results file {bad}: extra.baseline.max_foreign_load is 'busy': expected off or a percentage" in (
        capsys.readouterr().err
    )
