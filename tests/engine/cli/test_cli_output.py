"""What ``causal-eval evaluate`` prints says only what is true: no cache line without a cache,
and a folded cluster bootstrap says it was folded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main

TASK = ["evaluate", "--model", "oracle", "--task", "association", "-n", "60"]


def test_no_cache_line_without_a_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(TASK) == 0
    assert "cache" not in capsys.readouterr().out
    assert main([*TASK, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["cache_hits"], data["cache_misses"], data["settings"]["cache"]) == (0, 0, None)


def test_the_cache_line_with_a_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TASK, "--cache", "memory"]) == 0
    assert "cache      0 hits   60 misses" in capsys.readouterr().out


def test_folded_clusters_are_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "many.jsonl"
    with data.open("w") as out:
        for i in range(8192 + 100):  # one cluster per question: more than the bootstrap keeps apart
            out.write(
                json.dumps(
                    {"id": f"q{i}", "prompt": f"Is {i} even?", "answer": "yes" if i % 2 == 0 else "no"}
                )
            )
            out.write("\n")
    assert main(["evaluate", "--model", "oracle", "--dataset", str(data), "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    assert "(more than 8192 clusters: folded into 8192 buckets by hash" in text
    assert (
        main(["evaluate", "--model", "oracle", "--dataset", str(data), "-n", "100", "--bootstrap", "50"]) == 0
    )
    text = capsys.readouterr().out
    assert "buckets" not in text and "over 100 clusters" in text


def test_a_fallback_for_the_memory_cache_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*TASK, "--cache", "memory", "--cache-fallback", str(tmp_path)]) == 2
    assert "--cache-fallback applies to a disk or Redis cache" in capsys.readouterr().err
