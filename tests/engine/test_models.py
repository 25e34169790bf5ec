from __future__ import annotations

import json
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
        from pytest_causal_eval.engine.models import MODELS

        MODELS.pop("echo")
