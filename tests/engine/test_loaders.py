from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_causal_eval.engine import DatasetError, UnknownNameError, load_bbh, load_cladder, load_dataset
from pytest_causal_eval.engine.loaders import detect_format, iter_records


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
        {"uid": "b", "ctx": "It rained.", "q": "Did the street get wet?", "gold": "Yes"},
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
