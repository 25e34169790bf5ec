"""``causal-eval validate cladder``: the engine checked against CLadder's own ground truth."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.engine import DatasetError
from pytest_causal_eval.engine.causal.cladder import CladderQuantities
from pytest_causal_eval.engine.causal.validation import validate_cladder

FILES = {"easy": (844, 680), "hard": (844, 680), "non": (1120, 900), "det": (512, 512)}


def test_every_shipped_file_matches(cladder_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(cladder_dir / f"test-generate-{name}.json") for name in FILES]
    assert main(["validate", "cladder", *paths]) == 0
    out = capsys.readouterr().out
    for name, (total, numeric) in FILES.items():
        assert f"matched    {total}/{total} questions" in out, name
        assert f"numeric    {numeric} values checked" in out, name
    assert out.count("mismatches 0") == 4
    assert main(["validate", "cladder", paths[0], "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["total"] == report["matched"] == 844 and report["numeric_checked"] == 680
    assert report["max_error"] < 1e-9 and report["mismatches"] == []


def test_the_old_arrowhead_correlation_is_caught(cladder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The defect this command exists for: correlation read with the decoupled mediator formula
    keeps every yes/no answer but misses 24 numbers on the easy file by up to 0.0102."""

    def decoupled(self: CladderQuantities) -> float:
        return self.do_outcome(1) - self.do_outcome(0)

    monkeypatch.setattr(CladderQuantities, "correlation", decoupled)
    report = validate_cladder(cladder_dir / "test-generate-easy.json")
    assert report.total == 844 and report.matched == 820 and not report.ok
    assert {(m.query_type, m.what) for m in report.mismatches} == {("correlation", "value")}
    assert len(report.mismatches) == 24
    assert report.max_error == pytest.approx(0.01015, abs=1e-5)


def test_mismatches_are_listed_and_exit_1(
    cladder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = json.loads((cladder_dir / "test-generate-easy.json").read_text(encoding="utf-8"))
    corr = next(q for q in questions if q["meta"]["query_type"] == "correlation")
    corr["meta"]["groundtruth"] += 0.05
    ate = next(q for q in questions if q["meta"]["query_type"] == "ate")
    ate["answer"] = "no" if ate["answer"] == "yes" else "yes"
    backadj = next(q for q in questions if q["meta"]["query_type"] == "backadj")
    backadj["meta"]["groundtruth"] = ["V9"]
    path = tmp_path / "test-generate-easy.json"
    path.write_text(json.dumps(questions), encoding="utf-8")
    shutil.copy(cladder_dir / "test-model-meta.json", tmp_path / "test-model-meta.json")
    assert main(["validate", "cladder", str(path)]) == 1
    out = capsys.readouterr().out
    assert "matched    841/844 questions" in out and "mismatches 3:" in out
    assert f"question {corr['question_id']}   correlation   value: expected" in out
    assert "error 0.05" in out
    assert f'question {ate["question_id"]}   ate   answer: expected "{ate["answer"]}"' in out
    assert f'question {backadj["question_id"]}   backadj   value: expected ["V9"]' in out


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("questions", "meta", "message"),
    [
        ("not json", None, "q.json:1: bad JSON"),
        ("[]", None, "q.json: no questions in the file"),
        ('[\n{"question_id": 1, "answer": "yes"}\n]', None, "q.json:2: field 'meta': missing"),
        (
            '[\n{"question_id": 1, "answer": "yes", "meta": {"query_type": "ate"}}\n]',
            None,
            "q.json:2: field 'meta.model_id': missing",
        ),
        (
            '[{"question_id": 1, "answer": "yes", "meta": {"query_type": "ate", "model_id": 4000}}]',
            None,
            "q.json:1: field 'meta.model_id': model 4000 is not in",
        ),
        (
            '[{"question_id": 1, "answer": "yes", "meta": {"query_type": "telepathy", "model_id": 0}}]',
            None,
            "q.json:1: field 'meta (telepathy)': unsupported CLadder query type 'telepathy'",
        ),
        ("[]", "[]", "m.json: no models in the file"),
        ("[]", '[{"model_id": "seven", "structure": "X->Y", "params": {}}]', "m.json:1: field 'model_id'"),
    ],
)
def test_bad_input_exit_2(
    cladder_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    questions: str,
    meta: str | None,
    message: str,
) -> None:
    q = _write(tmp_path / "q.json", questions)
    m = _write(tmp_path / "m.json", meta) if meta is not None else cladder_dir / "test-model-meta.json"
    assert main(["validate", "cladder", str(q), "--meta", str(m)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("causal-eval: error: ") and message in err and "Traceback" not in err


def test_missing_metadata_is_a_usage_error(tmp_path: Path) -> None:
    q = _write(tmp_path / "q.json", "[]")
    with pytest.raises(DatasetError, match=r"test-model-meta\.json: no such model metadata file"):
        validate_cladder(q)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_causal_eval.cli", "validate", "cladder", str(q)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "give it with --meta" in proc.stderr and "Traceback" not in proc.stderr
