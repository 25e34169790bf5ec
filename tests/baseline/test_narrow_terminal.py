"""At 80 columns (what CI logs get), names of a peer suite that share long prefixes stay apart, the
short summary shows the numbers, and the rows come biggest change first."""

from __future__ import annotations

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

from .runargs import ARGS

PEER = """
import os
import pytest

SLOW = {"association-1": 1.6, "association-2": 1.3, "intervention-1": 1.9, "counterfactual-1": 1.45}


@pytest.mark.parametrize("case", list(SLOW))
def test_evaluate_reference_oracle_against_the_cladder_questions(causal_bench, fake_timer, case):
    scale = SLOW[case] if os.environ.get("PLANTED") else 1.0
    step = [0]

    def work():
        step[0] += 1
        fake_timer.now += int(1_000_000 * scale * (1 + 0.01 * (step[0] % 5)))

    causal_bench(work)


def test_short(causal_bench, fake_timer):
    scale = 1.5 if os.environ.get("PLANTED") else 1.0

    def work():
        fake_timer.now += int(1_000_000 * scale)

    causal_bench(work)
"""

NAME = "test_evaluate_reference_oracle_against_the_cladder_questions"


@pytest.fixture
def peer(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(FAKE_CLOCK_SOURCE)
    pytester.makepyfile(test_peer=PEER)
    monkeypatch.setenv("COLUMNS", "80")
    return pytester


def test_peer_suite_at_80_columns(peer: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    peer.runpytest(*ARGS, "--causal-eval-save").assert_outcomes(passed=5)
    monkeypatch.setenv("PLANTED", "1")
    result = peer.runpytest(*ARGS, "-rf")
    result.assert_outcomes(failed=5)
    lines = result.stdout.lines
    # the short summary: the numbers come before anything that could be cut
    short = [line for line in lines if line.startswith("FAILED ")]
    assert len(short) == 5
    # pytest gives the message whatever room the node id leaves; the numbers come first
    assert "FAILED test_peer.py::test_short - Failed: p10 1.50 ms vs baseline 1.00 ms" in short[-1], short[-1]
    # the verdict summary and the measurement table: every name whole, on lines that fit
    for title in ("causal-eval verdicts", "causal-eval --"):
        start = next(i for i, line in enumerate(lines) if title in line)
        end = next(
            i for i in range(start + 1, len(lines)) if lines[i].startswith(("---", "===")) and " " in lines[i]
        )
        block = lines[start + 1 : end]
        text = "\n".join(block)
        assert all(len(line) <= 80 for line in block), text
        for case in ("association-1", "association-2", "intervention-1", "counterfactual-1"):
            assert f"{NAME}[{case}]" in text, text
        assert "…" not in text and "..." not in text, text
    start = next(i for i, line in enumerate(lines) if "causal-eval verdicts" in line)
    named = [line for line in lines[start:] if line.startswith(("test_short", NAME))]
    order = [line[len(NAME) :].strip("[]") or line for line in named[:5]]
    assert order == ["intervention-1", "association-1", "test_short", "counterfactual-1", "association-2"]
