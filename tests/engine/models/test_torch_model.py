from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.engine import EngineError, Evaluator, create_model, generate
from pytest_causal_eval.engine.models.tokenizer import HashTokenizer

pytestmark = pytest.mark.usefixtures("torch_available")
QS = generate("confounding", 64, seed=2)


def test_tokenizer_is_stable_across_processes() -> None:
    tok = HashTokenizer(1 << 16)
    here = tok.encode(QS[0].prompt)
    code = (
        "from pytest_causal_eval.engine.models.tokenizer import HashTokenizer;import sys,json;"
        "print(json.dumps(HashTokenizer(1<<16).encode(sys.stdin.read())))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        input=QS[0].prompt,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
        check=True,
    )
    assert json.loads(other.stdout) == here and len(here) >= 4
    feats = tok.features("When the oven is hot, the probability that the loaf wins a prize is 64%.")
    assert "p:when the oven is hot, the probability that the loaf wins a prize is #%.|6" in feats


def test_random_init_is_batch_invariant_and_seeded() -> None:
    model = create_model("torch", random_init=True, seed=1, batch_size=5, device="cpu")
    again = create_model("torch", random_init=True, seed=1, batch_size=64, device="cpu")
    answers = model.generate(QS)
    assert answers == again.generate(QS) and set(answers) <= {"yes", "no"}
    assert model.fingerprint == again.fingerprint
    assert create_model("torch", random_init=True, seed=2, device="cpu").fingerprint != model.fingerprint
    bf16 = create_model("torch", random_init=True, seed=1, precision="bf16", device="cpu")
    assert len(bf16.generate(QS)) == 64 and "bf16" in bf16.fingerprint
    with pytest.raises(EngineError, match="checkpoint=PATH, or random_init"):
        create_model("torch")
    with pytest.raises(EngineError, match="precision must be one of fp32, fp16, bf16"):
        create_model("torch", random_init=True, precision="fp8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pytest_causal_eval.engine.models.training import train_classifier

    out = tmp_path_factory.mktemp("ckpt") / "model.pt"
    report = train_classifier(out, tasks=["confounding"], n_per_task=1500, heldout_per_task=200, epochs=6)
    assert report.heldout_accuracy["confounding"] > 0.75  # clearly above chance (0.5), held-out clusters
    return out


def test_train_save_load_and_evaluate(trained: Path) -> None:
    meta = json.loads(trained.with_suffix(".json").read_text())
    assert meta["format"] == "causal-eval-torch-classifier" and meta["training"]["tasks"] == ["confounding"]
    model = create_model("torch", checkpoint=str(trained), device="cpu")
    held = generate("confounding", 200, seed=77)
    result = Evaluator(model, batch_size=32).run(held)
    assert result.accuracy > 0.75 and result.unparsed == 0
    assert model.fingerprint.startswith("torch:v1:sha256=")


def test_refuses_what_is_not_a_state_dict(trained: Path, tmp_path: Path) -> None:
    import torch

    bad = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], bad)
    bad.with_suffix(".json").write_text(trained.with_suffix(".json").read_text())
    with pytest.raises(EngineError, match="expected a state_dict"):
        create_model("torch", checkpoint=str(bad))
    wrong = tmp_path / "wrong.pt"
    torch.save({"weight": torch.zeros(2)}, wrong)
    wrong.with_suffix(".json").write_text(trained.with_suffix(".json").read_text())
    with pytest.raises(EngineError, match="do not match the classifier"):
        create_model("torch", checkpoint=str(wrong))


class _Evil:
    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (f"touch {_Evil.marker}",))

    marker = ""


def test_refuses_a_pickle_carrying_code(trained: Path, tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "pwned"
    _Evil.marker = str(marker)
    evil = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    pickle.dump({"embed.weight": _Evil()}, buffer)
    evil.write_bytes(buffer.getvalue())
    evil.with_suffix(".json").write_text(trained.with_suffix(".json").read_text())
    with pytest.raises(EngineError, match=r"refused torch checkpoint .*weights-only load failed"):
        create_model("torch", checkpoint=str(evil))
    assert not marker.exists()
