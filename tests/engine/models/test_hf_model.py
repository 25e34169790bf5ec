from __future__ import annotations

from pathlib import Path

import pytest

from pytest_causal_eval.engine import Evaluator, create_model, generate

from ..services import unavailable

QS = generate("association", 12, seed=4)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialized 1-layer GPT-2 and a word-level tokenizer, built offline."""
    try:
        import torch
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    except ImportError:
        unavailable("transformers not installed (extra 'hf')")
    words = sorted({w for q in QS for w in q.prompt.lower().replace("\n", " ").split()} | {"yes", "no"})
    vocab = {"[UNK]": 0, "[PAD]": 1, "[EOS]": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=512,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(config)
    with torch.no_grad():  # make greedy decoding say "yes": every position ends on the "yes" embedding
        yes = vocab["yes"]
        lm.transformer.wte.weight[yes] = 5.0
        lm.transformer.ln_f.weight.zero_()
        lm.transformer.ln_f.bias.copy_(lm.transformer.wte.weight[yes])
    out = tmp_path_factory.mktemp("tiny-gpt2")
    lm.save_pretrained(out)
    fast.save_pretrained(out)
    return out


def test_hf_model_greedy_and_extracted(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = create_model("hf", path=str(tiny_checkpoint), max_new_tokens=1, batch_size=5, device="cpu")
    answers = model.generate(QS)
    assert answers == ["yes"] * len(QS)
    result = Evaluator(model, batch_size=4).run(QS)
    assert result.unparsed == 0 and result.accuracy == sum(q.answer == "yes" for q in QS) / len(QS)
    assert model.fingerprint.startswith("hf:v1:") and "max_new_tokens=1" in model.fingerprint


def test_hf_model_refuses_a_non_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("torch", reason="the hf model is built on the torch model (extra 'torch')")
    from pytest_causal_eval.engine import EngineError

    with pytest.raises(EngineError, match="not a transformers checkpoint"):
        create_model("hf", path=str(tmp_path))
