"""The ``hf`` model: a local Hugging Face transformers checkpoint (optional extra ``hf``).

Loads a causal LM and its tokenizer from a directory with ``local_files_only=True`` (nothing is
downloaded), generates greedily (``do_sample=False``) with left padding in batches, and returns the
decoded continuation; the evaluator's extraction reads the answer from it. The fingerprint
hashes the directory's config, tokenizer and weight files plus the generation settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.models.base import TextModel
from pytest_causal_eval.engine.models.torch_model import PRECISIONS, choose_device

__all__ = ["HFModel"]

_HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt")


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in _HASHED_SUFFIXES):
        h.update(path.name.encode("utf-8"))
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


class HFModel(TextModel):
    """Options: ``path`` (a local checkpoint directory), ``max_new_tokens``, ``batch_size``,
    ``device`` (default CUDA if available), ``precision`` fp32|fp16|bf16."""

    name = "hf"

    def __init__(
        self,
        path: str,
        max_new_tokens: int = 8,
        batch_size: int = 8,
        device: str | None = None,
        precision: str = "fp32",
    ) -> None:
        try:
            import transformers
        except ImportError:
            raise EngineError(
                "the hf model needs transformers: pip install 'pytest-causal-eval[hf]'"
            ) from None
        directory = Path(path)
        if not (directory / "config.json").is_file():
            raise EngineError(f"hf model: {directory} is not a transformers checkpoint (no config.json)")
        if precision not in PRECISIONS:
            raise EngineError(
                f"hf model: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            )
        self.path = directory
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        self.precision = precision
        self.device = choose_device(device)
        try:
            self.tokenizer: Any = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
            dtype = PRECISIONS[precision]
            lm: Any = transformers.AutoModelForCausalLM.from_pretrained(
                directory, local_files_only=True, **({"dtype": dtype} if dtype is not None else {})
            )
        except (OSError, ValueError) as exc:
            raise EngineError(f"hf model: cannot load {directory}: {exc}") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm: Any = lm.to(self.device).eval()
        self._digest = _digest(directory)

    @property
    def fingerprint(self) -> str:
        return f"hf:v1:{self._digest}:greedy:max_new_tokens={self.max_new_tokens}:{self.precision}"

    def __repr__(self) -> str:
        return f"HFModel({self.path.name}, {self.fingerprint})"

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        import torch

        out: list[str] = []
        for i in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[i : i + self.batch_size])
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True).to(self.device)
            with torch.inference_mode():
                generated = self.lm.generate(
                    **enc,
                    do_sample=False,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = generated[:, enc["input_ids"].shape[1] :]
            out.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
        return out
