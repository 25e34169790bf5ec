from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_causal_eval.engine import (
    DatasetError,
    EngineError,
    UnknownNameError,
    load_bbh,
    load_cladder,
    load_dataset,
)
from pytest_causal_eval.engine.data.loaders import detect_format, iter_records


def test_cladder_loader(cladder_dir: Path) -> None:
    qs = list(load_cladder(cladder_dir / "test-generate-easy.json"))
    assert len(qs) == 844
    q = qs[0]
    assert q.answer in ("yes", "no") and q.rung in (1, 2, 3)
    assert q.graph == "mediation" and q.cluster == "cladder-model/0"
    assert q.prompt.startswith("Imagine a self-contained")  # background from the model file
    assert detect_format(cladder_dir / "test-generate-det.json") == "cladder"


def test_bbh_loader(bbh_dir: Path) -> None:
    qs = list(load_bbh(bbh_dir / "causal_judgement.json"))
    assert len(qs) == 187
    assert {q.answer for q in qs} == {"yes", "no"}
    assert qs[0].task == "causal_judgement"
    assert detect_format(bbh_dir / "causal_judgement.json") == "bbh"


def test_generic_jsonl_with_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "copa.jsonl"
    rows = [
        {
            "uid": "a",
            "ctx": "The man broke his toe.",
            "q": "What was the cause?",
            "opts": ["He dropped a hammer.", "He got a hole in his sock."],
            "gold": 0,
        },
        {"uid": "b", "ctx": "It rained.", "q": "Did the street get wet?", "opts": [], "gold": "Yes"},
        {"uid": "c", "ctx": "x", "q": "Pick", "opts": ["p", "q", "r"], "gold": "(C)"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    fields = {"id": "uid", "premise": "ctx", "question": "q", "choices": "opts", "answer": "gold"}
    qs = list(load_dataset(path, "jsonl", fields))
    assert [q.id for q in qs] == ["a", "b", "c"]
    assert qs[0].answer == "He dropped a hammer." and qs[0].choices[1] == "He got a hole in his sock."
    assert "(A) He dropped a hammer." in qs[0].prompt and qs[0].prompt.startswith("The man broke his toe.")
    assert qs[1].answer == "yes" and qs[1].choices == ("yes", "no")
    assert qs[2].answer == "r"


def test_generic_json_object_with_records(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"version": 1, "data": [{"prompt": "P?", "label": True}]}), encoding="utf-8")
    (q,) = load_dataset(path, fields={"answer": "label"})
    assert q.prompt == "P?" and q.answer == "yes"


def test_generated_file_loads_back(tmp_path: Path) -> None:
    from pytest_causal_eval.engine import generate

    qs = generate("association", 10, seed=1)
    path = tmp_path / "gen.jsonl"
    path.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in qs), encoding="utf-8")
    assert list(load_dataset(path)) == qs


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "a", "answer": "yes"}\n{"prompt": "b", "answer": \n', encoding="utf-8")
    stream = load_dataset(path)
    first = next(stream)  # streamed: the good first line loads before the bad one is read
    assert first.prompt == "a"
    with pytest.raises(DatasetError) as info:
        next(stream)
    assert str(path) in str(info.value) and ":2:" in str(info.value) and "bad JSON" in str(info.value)

    arr = tmp_path / "broken.json"
    arr.write_text(
        '[\n  {"prompt": "a", "answer": "yes"},\n  {"prompt": "b" "answer": "no"}\n]\n', encoding="utf-8"
    )
    with pytest.raises(DatasetError, match=r"broken\.json:3: bad JSON"):
        list(load_dataset(arr))


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text(
        '[\n {"question": "q1", "gold": "no"},\n {"question": "q2"}\n]\n',
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as info:
        list(load_dataset(path, "json", {"answer": "gold"}))
    msg = str(info.value)
    assert f"{path}:3" in msg and "'gold'" in msg and "missing" in msg

    bad_label = tmp_path / "labels.jsonl"
    bad_label.write_text('{"question": "q", "answer": "perhaps"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"labels\.jsonl:1: field 'answer': expected yes/no"):
        list(load_dataset(bad_label))

    cl = tmp_path / "cl.json"
    cl.write_text(
        '[{"question_id": 1, "given_info": "g", "question": "q", "answer": "yes", "meta": {"rung": 1}}]'
    )
    with pytest.raises(DatasetError, match=r"cl\.json:1: field 'meta.query_type': missing"):
        list(load_cladder(cl))

    bbh = tmp_path / "bbh.json"
    bbh.write_text('{"examples": [\n{"input": "x", "target": "Yes"},\n{"input": "y"}\n]}')
    with pytest.raises(DatasetError, match=r"bbh\.json:3: field 'target': missing"):
        list(load_bbh(bbh))


def test_loader_option_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        list(load_dataset(tmp_path / "absent.json", "json"))
    path = tmp_path / "x.jsonl"
    path.write_text('{"prompt": "p", "answer": "yes"}\n')
    with pytest.raises(UnknownNameError, match="valid fields"):
        list(load_dataset(path, fields={"label": "answer"}))
    with pytest.raises(UnknownNameError, match="valid dataset formats"):
        list(load_dataset(path, "csv"))
    assert [line for line, _ in iter_records(path)] == [1]


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


TWO_CHOICE = [
    {"premise": "The glass fell.", "hypothesis1": "It shattered.", "hypothesis2": "It sang.", "label": 0},
    {"premise": "She watered it.", "hypothesis1": "It wilted.", "hypothesis2": "It thrived.", "label": 1},
]


@pytest.mark.parametrize("base", [0, 1])
def test_choices_from_two_columns_and_an_index_label(tmp_path: Path, base: int) -> None:
    rows = [{**r, "label": int(r["label"]) + base} for r in TWO_CHOICE]  # type: ignore[call-overload]
    path = _jsonl(tmp_path / "pairs.jsonl", rows)
    fields = {"choices": "hypothesis1,hypothesis2", "answer": "label", "question": "premise"}
    qs = list(load_dataset(path, fields=fields, label_base=base))
    assert [q.choices for q in qs] == [("It shattered.", "It sang."), ("It wilted.", "It thrived.")]
    assert [q.answer for q in qs] == ["It shattered.", "It thrived."]
    assert "(A) It shattered.\n(B) It sang.\nAnswer with the letter of one option." in qs[0].prompt
    # without choices an integer label is yes/no (1/0), never an index into ("yes", "no")
    yn = _jsonl(tmp_path / "yn.jsonl", [{"question": "q", "answer": 0}, {"question": "r", "answer": 1}])
    assert [q.answer for q in load_dataset(yn)] == ["no", "yes"]


@pytest.mark.parametrize(
    ("rows", "fields", "base", "message"),
    [
        (  # the second record lacks a mapped choice column
            [TWO_CHOICE[0], {k: v for k, v in TWO_CHOICE[1].items() if k != "hypothesis2"}],
            {"choices": "hypothesis1,hypothesis2", "answer": "label"},
            0,
            ":2: field 'hypothesis2': missing (record 2)",
        ),
        (  # a mapped column that no record has
            TWO_CHOICE,
            {"choices": "options", "answer": "label"},
            0,
            ":1: field 'options': missing (record 1)",
        ),
        (
            TWO_CHOICE,
            {"choices": "hypothesis1,hypothesis2", "answer": "gold"},
            0,
            ":1: field 'gold': missing (record 1)",
        ),
        (
            TWO_CHOICE,
            {"choices": "hypothesis1,hypothesis2", "answer": "label", "id": "uid"},
            0,
            ":1: field 'uid': missing (record 1)",
        ),
        (  # 1-based labels read as 0-based: 2 is out of range, and the message says what to do
            [{**TWO_CHOICE[0], "label": 2}],
            {"choices": "hypothesis1,hypothesis2", "answer": "label"},
            0,
            ":1: field 'label': label index 2 outside the 2 choices (counting from 0: 0..1; "
            "pass --label-base 1 if the labels count from 1) (record 1)",
        ),
        (
            [{**TWO_CHOICE[0], "label": 1}, {**TWO_CHOICE[1], "label": 0}],
            {"choices": "hypothesis1,hypothesis2", "answer": "label"},
            1,
            ":2: field 'label': label index 0 outside the 2 choices (counting from 1: 1..2) (record 2)",
        ),
        (
            [{**TWO_CHOICE[0], "hypothesis2": 7}],
            {"choices": "hypothesis1,hypothesis2", "answer": "label"},
            0,
            ":1: field 'hypothesis2': expected a string choice, got int 7 (record 1)",
        ),
        (
            [{"question": "q", "opts": ["a", None], "answer": 0}],
            {"choices": "opts"},
            0,
            ":1: field 'opts': choice 2 is NoneType None, not a string (record 1)",
        ),
        (
            [{"question": "q", "opts": "a|b", "answer": 0}],
            {"choices": "opts"},
            0,
            ":1: field 'opts': expected a list of strings, got str (record 1)",
        ),
        ([{"question": "q", "answer": 2}], {}, 0, ":1: field 'answer': integer label 2 on a yes/no question"),
        (
            [{"question": "q", "answer": "yes"}, ["q2", "no"]],
            {},
            0,
            ":2: expected a JSON object, got list (record 2)",
        ),
    ],
)
def test_mapping_errors_name_file_line_record_and_field(
    tmp_path: Path, rows: list[object], fields: dict[str, str], base: int, message: str
) -> None:
    path = _jsonl(tmp_path / "pairs.jsonl", rows)
    with pytest.raises(DatasetError) as info:
        list(load_dataset(path, fields=fields, label_base=base))
    assert str(info.value).startswith(f"{path}{message}")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.json", "", "empty file"),
        ("empty.jsonl", "\n\n", "no records in the file"),
        ("empty-array.json", "[]", "no records in the file"),
        ("data.csv", "premise,label\nit rained,1\n", ":1: bad JSON"),
        ("scalar.json", "42", "expected a JSON array of records"),
    ],
)
def test_empty_and_non_json_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match=re.escape(message)) as info:
        list(load_dataset(path, "jsonl" if name.endswith(".jsonl") else "json"))
    assert str(info.value).startswith(str(path))


def test_label_base_is_for_generic_files(tmp_path: Path, bbh_dir: Path) -> None:
    with pytest.raises(DatasetError, match="label base applies to the json/jsonl formats, not bbh"):
        list(load_dataset(bbh_dir / "causal_judgement.json", label_base=1))
    path = _jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "yes"}])
    with pytest.raises(EngineError, match="label base must be 0 or 1"):
        list(load_dataset(path, label_base=2))
