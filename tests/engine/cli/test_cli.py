from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main


def test_generate_then_evaluate_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.jsonl"
    assert main(["generate", "--task", "counterfactual", "-n", "40", "--seed", "3", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["task"] == "counterfactual"
    capsys.readouterr()
    assert main(["evaluate", "--model", "oracle", "--dataset", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["n"] == 40 and data["accuracy"] == 1.0
    # the README's promise: the oracle on a dataset proves nothing about the engine, and says so
    assert "warning: the oracle answers with the dataset's own answer field" in captured.err
    assert "causal-eval validate cladder PATH" in captured.err
    assert main(["evaluate", "--model", "oracle", "--task", "association", "-n", "5", "--json"]) == 0
    assert "oracle" not in capsys.readouterr().err  # a generated task: what the oracle is for


def test_evaluate_task_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    per_q = tmp_path / "per.jsonl"
    code = main(
        ["evaluate", "--model", "random", "--model-arg", "seed=4", "--task", "intervention", "-n", "60",
         "--batch-size", "8", "-o", str(per_q)]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "Wilson 95%" in captured.out and "cluster bootstrap" in captured.out
    assert "by graph:" in captured.out and "throughput" in captured.out and "p99" in captured.out
    assert captured.err == ""  # no progress output when stderr is not a terminal
    assert len(per_q.read_text().splitlines()) == 60


def test_replay_json(bbh_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bbh_dir / "code-davinci-002-direct-outputs.json"
    assert (
        main(
            ["evaluate", "--model", "replay", "--model-arg", f"path={path}", "--dataset", str(path), "--json"]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert round(100 * data["accuracy"], 2) == 63.64


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["evaluate", "--model", "nope", "--task", "association"],
            "unknown model 'nope'; valid models: constant",
        ),
        (
            ["evaluate", "--model", "oracle", "--task", "nope"],
            "unknown task 'nope'; valid tasks: association",
        ),
        (["generate", "--task", "nope", "-o", "x.jsonl"], "valid tasks: association"),
        (["evaluate", "--model", "oracle", "--task", "association", "--format", "bbh"], "--dataset only"),
        (["evaluate", "--model", "replay", "--task", "association"], "bad options for model 'replay'"),
    ],
)
def test_user_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("causal-eval: error: ") and message in err and "Traceback" not in err


def test_bad_dataset_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "label": "yes"}\n{"question": "r"}\n')
    assert main(["evaluate", "--model", "oracle", "--dataset", str(bad), "--field", "answer=label"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: field 'label': missing" in err
    assert main(["evaluate", "--model", "oracle", "--dataset", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_not_a_traceback() -> None:
    """``causal-eval evaluate ... | head -1`` after head exited: the pipe is closed before the command
    writes; it stops quietly (exit 141, as after SIGPIPE) instead of printing a BrokenPipeError."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest_causal_eval.cli", "evaluate", "--model", "oracle", "--task",
             "association", "-n", "50"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 141
