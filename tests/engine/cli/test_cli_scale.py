from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.engine import LocalServer, free_port


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict | str, str]:
    code = main(["evaluate", "--task", "association", "-n", "60", "--json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else out), err


def test_evaluate_with_executor_and_disk_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = str(tmp_path / "cache")
    code, first, _ = _eval(
        capsys,
        "--model",
        "random",
        "--executor",
        "thread",
        "--workers",
        "2",
        "--batch-size",
        "7",
        "--cache",
        cache,
    )
    assert code == 0 and first["cache_misses"] == 60 and first["settings"]["executor"] == "thread"
    code, second, _ = _eval(
        capsys, "--model", "random", "--executor", "process", "--workers", "2", "--cache", cache
    )
    assert code == 0 and second["cache_hits"] == 60 and second["accuracy"] == first["accuracy"]


def test_evaluate_openai_against_local_server(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalServer("oracle", {"task": "association", "seed": 0, "n": 60}) as srv:
        code, result, _ = _eval(
            capsys,
            "--model",
            "openai",
            "--base-url",
            srv.base_url,
            "--model-name",
            "oracle",
            "--executor",
            "async",
            "--workers",
            "4",
        )
    assert code == 0 and result["accuracy"] == 1.0 and result["n"] == 60


def test_cli_user_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _eval(capsys, "--model", "openai", "--model-name", "x")
    assert code == 2 and "--model openai needs --base-url" in err
    code, _, err = _eval(capsys, "--model", "oracle", "--workers", "3")
    assert code == 2 and "--workers needs --executor" in err
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, _, err = _eval(capsys, "--model", "oracle", "--cache", url)
    assert code == 2 and "does not answer" in err
    code, result, err = _eval(capsys, "--model", "oracle", "--cache", url, "--cache-fallback", str(tmp_path))
    assert code == 0 and "falling back to the disk cache" in err and result["cache_misses"] == 60


def test_train_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "ckpt"
    code = main(
        [
            "train",
            "-o",
            str(out),
            "--task",
            "confounding",
            "-n",
            "300",
            "--heldout",
            "100",
            "--epochs",
            "2",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and set(report["heldout_accuracy"]) == {"confounding"}
    assert (out / "model.pt").is_file() and (out / "model.json").is_file()
    code, result, _ = _eval(capsys, "--model", "torch", "--model-arg", f"checkpoint={out}")
    assert code == 0 and result["n"] == 60
    assert main(["train", "-o", str(out), "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
