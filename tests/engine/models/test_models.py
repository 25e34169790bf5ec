from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_causal_eval.engine import (
    DatasetError,
    EngineError,
    Model,
    Question,
    TextModel,
    UnknownNameError,
    create_model,
    generate,
    load_dataset,
    model_names,
    register_model,
)


def _q(prompt: str, answer: str = "yes", choices: tuple[str, ...] = ("yes", "no")) -> Question:
    return Question(id=prompt, prompt=prompt, answer=answer, choices=choices)


def test_registry() -> None:
    assert {"oracle", "random", "constant", "replay"} <= set(model_names())
    with pytest.raises(UnknownNameError) as info:
        create_model("gpt-17")
    assert "gpt-17" in str(info.value) and "oracle" in str(info.value) and "replay" in str(info.value)
    with pytest.raises(EngineError, match="bad options for model 'oracle'"):
        create_model("oracle", temperature=0.0)


@pytest.mark.parametrize(
    ("name", "options", "hidden", "extras"),
    [
        ("hf", {"path": "ckpt"}, "torch", "torch,hf"),
        ("torch", {}, "torch", "torch"),
        ("openai", {"base_url": "http://127.0.0.1:9/v1", "model_name": "m"}, "httpx", "http"),
    ],
)
def test_a_model_whose_extra_is_not_installed_says_what_to_install(
    name: str, options: dict[str, str], hidden: str, extras: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)  # as if not installed: importing it fails
    for module in ("hf_model", "torch_model", "openai_model"):  # imported afresh, without it
        monkeypatch.delitem(sys.modules, f"pytest_causal_eval.engine.models.{module}", raising=False)
    with pytest.raises(EngineError) as info:
        create_model(name, **options)
    assert str(info.value) == (
        f"the {name} model needs {hidden}, which is not installed: pip install 'pytest-causal-eval[{extras}]'"
    )


def test_oracle_constant_random() -> None:
    qs = generate("confounding", 20, seed=0)
    oracle = create_model("oracle")
    assert isinstance(oracle, Model)
    assert oracle.generate(qs) == [q.answer for q in qs]
    assert create_model("constant", answer="No").generate(qs[:3]) == ["No"] * 3
    r1, r2 = create_model("random", seed=1), create_model("random", seed=2)
    a = r1.generate(qs)
    assert a == create_model("random", seed=1).generate(qs)  # seeded
    assert a == r1.generate(qs[:7]) + r1.generate(qs[7:])  # independent of batching
    assert a != r2.generate(qs)
    assert set(a) <= {"yes", "no"}
    mc = [_q(f"p{i}", "b", ("a", "b", "c")) for i in range(60)]
    assert set(r1.generate(mc)) == {"a", "b", "c"}
    assert len({m.fingerprint for m in (oracle, r1, r2, create_model("constant"))}) == 4


def test_replay(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(
        json.dumps({"input": "p1", "prediction": "Yes"})
        + "\n"
        + json.dumps({"input": "p2", "prediction": "No"})
        + "\n"
    )
    model = create_model("replay", path=str(path))
    assert model.generate([_q("p2"), _q("p1")]) == ["No", "Yes"]
    with pytest.raises(LookupError, match="no recorded response"):
        model.generate([_q("p3")])
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"input": "p1", "prediction": "No"}) + "\n")
    assert create_model("replay", path=str(other)).fingerprint != model.fingerprint
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"input": "p1"}) + "\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:1: field 'prediction': missing"):
        create_model("replay", path=str(bad))


def test_replay_on_published_outputs(bbh_dir: Path) -> None:
    model = create_model("replay", path=str(bbh_dir / "code-davinci-002-direct-outputs.json"))
    assert len(model) == 185  # type: ignore[arg-type]  # two prompts appear twice


def test_text_model_sees_prompts_only() -> None:
    class Echo(TextModel):
        name = "echo"

        @property
        def fingerprint(self) -> str:
            return "echo"

        def generate_text(self, prompts: Sequence[str]) -> list[str]:
            return [p.upper() for p in prompts]

    register_model("echo", Echo)
    try:
        assert create_model("echo").generate([_q("abc")]) == ["ABC"]
    finally:
        from pytest_causal_eval.engine.models.registry import MODELS

        MODELS.pop("echo")


def test_replay_few_shot_outputs_pair_with_the_dataset(bbh_dir: Path) -> None:
    """BIG-Bench Hard's recorded inputs are the few-shot prompt followed by the question: each
    dataset question finds its recording by containment (auto) or by position (order)."""
    outputs = bbh_dir / "code-davinci-002-direct-outputs.json"
    dataset = bbh_dir / "causal_judgement.json"
    recorded = json.loads(outputs.read_text(encoding="utf-8"))["outputs"]
    questions = list(load_dataset(dataset))
    pairs = zip(questions, recorded, strict=True)
    assert all(q.prompt != r["input"] and q.prompt in r["input"] for q, r in pairs)
    expected = [r["prediction"] for r in recorded]
    auto = create_model("replay", path=str(outputs))
    assert auto.generate(questions) == expected
    order = create_model("replay", path=str(outputs), match="order", dataset=str(dataset))
    assert order.generate(questions) == expected
    assert order.fingerprint != auto.fingerprint
    exact = create_model("replay", path=str(outputs), match="exact")
    assert exact.fingerprint == auto.fingerprint  # auto answers every prompt exact does, identically
    with pytest.raises(LookupError, match="no recorded response"):
        exact.generate(questions[:1])


def test_replay_in_order_checks_targets(tmp_path: Path, bbh_dir: Path) -> None:
    outputs = bbh_dir / "code-davinci-002-direct-outputs.json"
    data = json.loads((bbh_dir / "causal_judgement.json").read_text(encoding="utf-8"))
    first_yes = next(i for i, ex in enumerate(data["examples"]) if ex["target"] == "Yes")
    first_no = next(i for i, ex in enumerate(data["examples"]) if ex["target"] == "No")
    ex = data["examples"]
    ex[first_yes], ex[first_no] = ex[first_no], ex[first_yes]
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        DatasetError, match=r"field 'target': target '(Yes|No)' but question .* not in the same order"
    ):
        create_model("replay", path=str(outputs), match="order", dataset=str(swapped))
    data["examples"] = ex[:10]
    short = tmp_path / "short.json"
    short.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DatasetError, match="187 recorded responses for the 10 questions"):
        create_model("replay", path=str(outputs), match="order", dataset=str(short))
    no_target = tmp_path / "no-target.jsonl"
    no_target.write_text(json.dumps({"input": "a", "prediction": "Yes"}) + "\n")
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"question": "a", "answer": "yes"}) + "\n")
    with pytest.raises(DatasetError, match=r"no-target\.jsonl:1: field 'target': missing"):
        create_model("replay", path=str(no_target), match="order", dataset=str(one))


def test_replay_containment_prefers_the_question_asked(tmp_path: Path) -> None:
    shots = "Q: Is ice cold, as everyone agrees?\nA: Yes\n\n"
    asked = ["Is fire hot, in the usual sense?", "Is ice cold, as everyone agrees?"]
    rows = [
        {"input": f"{shots}Q: {asked[0]}\nA:", "prediction": "Yes"},
        {"input": f"{shots}Q: {asked[1]}\nA:", "prediction": "No"},  # also a few-shot example
    ]
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = create_model("replay", path=str(path))
    assert model.generate([_q(asked[0]), _q(asked[1])]) == ["Yes", "No"]
    with pytest.raises(LookupError, match="no recorded response"):
        model.generate([_q("Is water wet, in the usual sense?")])
    rows.append({"input": f"Context.\nQ: {asked[0]}\nA:", "prediction": "No"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(LookupError, match=r"ends the recorded inputs at lines 1, 3 .* match=order"):
        create_model("replay", path=str(path)).generate([_q(asked[0])])


def test_replay_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps({"input": "p1", "prediction": "Yes"}) + "\n")
    with pytest.raises(UnknownNameError, match="valid replay matchs: auto, exact, order"):
        create_model("replay", path=str(path), match="fuzzy")
    with pytest.raises(EngineError, match="match=order needs dataset=PATH"):
        create_model("replay", path=str(path), match="order")
    with pytest.raises(EngineError, match="dataset= applies to match=order"):
        create_model("replay", path=str(path), dataset=str(path))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DatasetError, match="no recorded responses"):
        create_model("replay", path=str(empty))
