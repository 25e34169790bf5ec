"""``causal-eval evaluate --dataset``: sentence choices, column-mapped choices, index labels, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main

#: A sentence-choice dataset: every choice ends in punctuation; in two items one choice contains
#: the other ("It rained." / "It rained all day.").
SENTENCE_ITEMS = [
    ("The ground is wet.", ["It rained.", "It rained all day."], 1),
    ("The glass broke.", ["Someone dropped it.", "It was never touched!"], 0),
    ("The lamp is dark.", ["The bulb burned out.", "The bulb is new."], 0),
    ("She is tired.", ["She slept ten hours.", "She worked all night."], 1),
    ("The cake rose.", ["It had yeast, so it rose.", "It had no yeast."], 0),
    ("He is wet.", ["It rained.", "It rained all day."], 0),
    ("The car stopped.", ["It ran out of fuel.", "It was just refuelled."], 0),
    ("The dog barked.", ["A stranger came to the door.", "Nobody came?"], 0),
]


def _sentence_dataset(tmp_path: Path) -> Path:
    path = tmp_path / "sentences.jsonl"
    rows = [
        {"id": f"s{i}", "question": q, "choices": c, "answer": a}
        for i, (q, c, a) in enumerate(SENTENCE_ITEMS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("extraction", ["strict", "flexible"])
def test_oracle_scores_every_sentence_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extraction: str
) -> None:
    """The oracle answers with a choice's own text; strict extraction scored it 0% before."""
    path = _sentence_dataset(tmp_path)
    argv = ["evaluate", "--model", "oracle", "--dataset", str(path), "--extraction", extraction, "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 8 and data["correct"] == 8 and data["unparsed"] == 0


def test_answer_statements_with_sentence_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _sentence_dataset(tmp_path)
    recorded = tmp_path / "recorded.jsonl"
    lines = []
    for i, (question, choices, answer) in enumerate(SENTENCE_ITEMS):
        prompt = f"{question}\n(A) {choices[0]}\n(B) {choices[1]}\nAnswer with the letter of one option."
        said = choices[answer] if i % 2 else choices[1 - answer]  # every other one wrong
        lines.append(json.dumps({"input": prompt, "prediction": f"The answer is {said}"}))
    recorded.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = [
        "evaluate",
        "--model",
        "replay",
        "--model-arg",
        f"path={recorded}",
        "--dataset",
        str(path),
        "--json",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 8 and data["correct"] == 4 and data["unparsed"] == 0


PAIRS = [
    {"id": "p1", "premise": "The glass fell off the table.", "hypothesis1": "It shattered on the floor.",
     "hypothesis2": "It started to sing.", "label": 0},
    {"id": "p2", "premise": "She watered the plant every day.", "hypothesis1": "It wilted.",
     "hypothesis2": "It thrived.", "label": 1},
    {"id": "p3", "premise": "The road was covered in ice.", "hypothesis1": "Cars slid off it.",
     "hypothesis2": "Cars drove faster.", "label": 0},
    {"id": "p4", "premise": "He forgot his umbrella in the rain.", "hypothesis1": "He stayed dry.",
     "hypothesis2": "He got soaked.", "label": 1},
]  # fmt: skip


def _pairs(tmp_path: Path, rows: list[dict[str, object]] | None = None) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows or PAIRS), encoding="utf-8")
    return path


def test_two_choice_dataset_from_two_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's worked example: a model answering "B" is right exactly where label is 1. Before
    column-mapped choices, this ran as yes/no questions without the hypotheses in the prompt."""
    path = _pairs(tmp_path)
    per_question = tmp_path / "per.jsonl"
    argv = ["evaluate", "--model", "constant", "--model-arg", "answer=B", "--dataset", str(path),
            "--field", "choices=hypothesis1,hypothesis2", "--field", "answer=label",
            "--output", str(per_question)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "questions  4   answered 4   correct 2   unparsed 0   errors 0 (0.00% error rate)" in out
    records = [json.loads(line) for line in per_question.read_text().splitlines()]
    assert [r["parsed"] for r in records] == [p["hypothesis2"] for p in PAIRS]
    assert [r["correct"] for r in records] == [False, True, False, True]
    # the same labels counted from 1
    shifted = _pairs(tmp_path, [{**p, "label": int(p["label"]) + 1} for p in PAIRS])  # type: ignore[call-overload]
    argv = ["evaluate", "--model", "constant", "--model-arg", "answer=B", "--dataset", str(shifted),
            "--field", "choices=hypothesis1,hypothesis2", "--field", "answer=label", "--label-base", "1",
            "--json"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["correct"] == 2


MAPPING = ["--field", "choices=hypothesis1,hypothesis2", "--field", "answer=label"]


def test_replay_in_order_reads_the_dataset_with_the_same_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """match=order pairs the i-th recording with the i-th question of --dataset as this command
    reads it: with --field and --label-base (before: read with the default columns, and refused)."""
    shifted = _pairs(tmp_path, [{**p, "label": int(p["label"]) + 1} for p in PAIRS])  # type: ignore[call-overload]
    recorded = tmp_path / "recorded.jsonl"
    targets = [p["hypothesis2"] if p["label"] else p["hypothesis1"] for p in PAIRS]
    recorded.write_text("".join(json.dumps({"input": f"q{i}", "prediction": "B", "target": t}) + "\n"
                                for i, t in enumerate(targets)))  # fmt: skip
    argv = ["evaluate", "--model", "replay", "--model-arg", f"path={recorded}", "--model-arg", "match=order",
            "--dataset", str(shifted), *MAPPING, "--label-base", "1", "--json"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert (data["n"], data["correct"], data["errors"]) == (4, 2, 0)


@pytest.mark.parametrize(
    ("rows", "text", "extra", "message"),
    [
        ([PAIRS[0], {k: v for k, v in PAIRS[1].items() if k != "hypothesis2"}], None, MAPPING,
         "pairs.jsonl:2: field 'hypothesis2': missing (record 2)"),
        (PAIRS, None, ["--field", "choices=h1,h2", "--field", "answer=label"],
         "pairs.jsonl:1: field 'h1': missing (record 1)"),
        ([{**PAIRS[0], "label": 2}], None, MAPPING,
         "pairs.jsonl:1: field 'label': label index 2 outside the 2 choices"),
        ([{**PAIRS[0], "hypothesis1": ["a", "b"]}], None, MAPPING,
         "pairs.jsonl:1: field 'hypothesis1': expected a string choice, got list"),
        ([PAIRS[0], "not an object"], None, MAPPING, "pairs.jsonl:2: expected a JSON object, got str"),
        (None, "", MAPPING, "pairs.jsonl: no records in the file"),
        (None, "premise,label\nx,1\n", MAPPING, "pairs.jsonl:1: bad JSON"),
        (PAIRS, None, ["--field", "label=label"], "unknown field 'label'; valid fields:"),
        (PAIRS, None, [*MAPPING, "--label-base", "2"], "argument --label-base: invalid choice: 2"),
    ],
)  # fmt: skip
def test_bad_dataset_input_exits_2_without_traceback(
    tmp_path: Path, rows: list[object] | None, text: str | None, extra: list[str], message: str
) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(text if text is not None else "".join(json.dumps(r) + "\n" for r in rows or []))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_causal_eval.cli", "evaluate", "--model", "oracle", "--dataset",
         str(path), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("match", [[], ["--model-arg", "match=order"]])
def test_replay_published_few_shot_outputs_on_the_dataset(
    bbh_dir: Path, capsys: pytest.CaptureFixture[str], match: list[str]
) -> None:
    """The README recipe: BIG-Bench Hard's recorded outputs replayed on the dataset itself
    reproduce the published 63.64% (before: a LookupError on every question)."""
    outputs = bbh_dir / "code-davinci-002-direct-outputs.json"
    argv = ["evaluate", "--model", "replay", "--model-arg", f"path={outputs}", *match,
            "--dataset", str(bbh_dir / "causal_judgement.json"), "--json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 187 and data["errors"] == 0 and round(100 * data["accuracy"], 2) == 63.64
