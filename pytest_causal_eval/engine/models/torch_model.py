"""The ``torch`` model: a small yes/no text classifier over hashed features (optional extra ``torch``).

Network: ``EmbeddingBag`` (mean of the prompt's hashed feature vectors, see
:class:`~.tokenizer.HashTokenizer`) -> ``Linear`` -> ``ReLU`` -> ``Linear`` -> two logits (yes, no).
Inference is batched, on CUDA when available unless ``device`` says otherwise, optionally under
fp16/bf16 autocast.

Checkpoints are a plain ``state_dict`` saved with ``torch.save`` (``model.pt``) plus a small JSON
config beside it (``model.json``: network sizes, tokenizer settings, training record). Loading
uses ``torch.load(..., weights_only=True)``: a file that is not a state_dict of tensors, or a
pickle that carries code, is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pytest_causal_eval.atomicio import write_bytes_atomic, write_json_atomic
from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.models.base import TextModel
from pytest_causal_eval.engine.models.tokenizer import HashTokenizer

__all__ = [
    "LABELS",
    "PRECISIONS",
    "CheckpointError",
    "HashedClassifier",
    "NetConfig",
    "TorchModel",
    "load_checkpoint",
    "save_checkpoint",
]

LABELS: tuple[str, str] = ("yes", "no")
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
FORMAT = "causal-eval-torch-classifier"
FORMAT_VERSION = 1


class CheckpointError(EngineError):
    """A checkpoint that is missing, not a state_dict, unsafe, or does not fit its config."""


@dataclass(frozen=True)
class NetConfig:
    buckets: int = 1 << 16
    dim: int = 32
    hidden: int = 64
    max_features: int = 1024
    tokenizer_version: int = HashTokenizer.version
    labels: tuple[str, ...] = LABELS
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> NetConfig:
        if data.get("format") != FORMAT:
            raise CheckpointError(f"{where}: not a {FORMAT} config (format={data.get('format')!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{where}: unsupported format_version {data.get('format_version')!r}")
        try:
            return cls(
                buckets=int(data["buckets"]),
                dim=int(data["dim"]),
                hidden=int(data["hidden"]),
                max_features=int(data["max_features"]),
                tokenizer_version=int(data["tokenizer_version"]),
                labels=tuple(str(x) for x in data["labels"]),
                training=dict(data.get("training") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{where}: bad config field {exc}") from None


class HashedClassifier(nn.Module):
    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        # sparse gradients: a training step touches only the rows of the features it saw
        self.embed = nn.EmbeddingBag(config.buckets, config.dim, mode="mean", sparse=True)
        self.hidden = nn.Linear(config.dim, config.hidden)
        self.out = nn.Linear(config.hidden, len(config.labels))

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.hidden(self.embed(ids, offsets)))
        logits: torch.Tensor = self.out(h)
        return logits


def _paths(checkpoint: str | Path) -> tuple[Path, Path]:
    p = Path(checkpoint)
    if p.is_dir() or not p.suffix:  # a directory (existing, or to be created by save_checkpoint)
        return p / "model.pt", p / "model.json"
    return p, p.with_suffix(".json")


def save_checkpoint(net: HashedClassifier, config: NetConfig, checkpoint: str | Path) -> Path:
    """Write ``model.pt`` (state_dict) and ``model.json`` atomically; returns the weights path."""
    weights, meta = _paths(checkpoint)
    weights.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, buffer)
    write_bytes_atomic(weights, buffer.getvalue())
    write_json_atomic(meta, config.to_json())
    return weights


def load_checkpoint(checkpoint: str | Path) -> tuple[dict[str, torch.Tensor], NetConfig, str]:
    """The state_dict, config and a content digest; anything unsafe or malformed is refused."""
    weights, meta = _paths(checkpoint)
    if not weights.is_file():
        raise CheckpointError(f"torch checkpoint {weights} not found")
    if not meta.is_file():
        raise CheckpointError(f"torch checkpoint {weights}: config {meta.name} missing beside it")
    try:
        config = NetConfig.from_json(json.loads(meta.read_text(encoding="utf-8")), str(meta))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{meta}: unreadable config: {exc}") from None
    data = weights.read_bytes()
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses pickles that would import or call anything
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"refused torch checkpoint {weights}: not a plain state_dict of tensors "
            f"(weights-only load failed: {first})"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(
            f"refused torch checkpoint {weights}: expected a state_dict (str -> tensor), "
            f"got {type(state).__name__}"
        )
    expected = HashedClassifier(NetConfig(**{**asdict(config), "buckets": 2})).state_dict()
    if set(state) != set(expected):
        raise CheckpointError(
            f"torch checkpoint {weights}: keys {sorted(state)} "
            f"do not match the classifier's {sorted(expected)}"
        )
    digest = hashlib.sha256(data).hexdigest()[:16]
    return state, config, digest


def choose_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise EngineError(f"torch model: bad device {device!r}: {exc}") from None


class TorchModel(TextModel):
    """Options: ``checkpoint=PATH`` (file or directory) or ``random_init=True`` (speed tests);
    ``device`` (default CUDA if available), ``precision`` fp32|fp16|bf16, ``batch_size``."""

    name = "torch"

    def __init__(
        self,
        checkpoint: str | None = None,
        random_init: bool = False,
        device: str | None = None,
        precision: str = "fp32",
        batch_size: int = 256,
        seed: int = 0,
        buckets: int = 1 << 16,
        dim: int = 32,
        hidden: int = 64,
    ) -> None:
        if precision not in PRECISIONS:
            raise EngineError(
                f"torch model: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            )
        if batch_size < 1:
            raise EngineError(f"torch model: batch_size must be >= 1, got {batch_size}")
        if (checkpoint is None) == (not random_init):
            raise EngineError("torch model: give checkpoint=PATH, or random_init=true for an untrained model")
        self.device = choose_device(device)
        self.precision = precision
        self.batch_size = int(batch_size)
        if checkpoint is not None:
            state, config, digest = load_checkpoint(checkpoint)
            self.config = config
            net = HashedClassifier(config)
            try:
                net.load_state_dict(state)
            except RuntimeError as exc:
                raise CheckpointError(
                    f"torch checkpoint {checkpoint}: does not fit its config: {exc}"
                ) from None
            self._identity = f"sha256={digest}"
        else:
            self.config = NetConfig(buckets=int(buckets), dim=int(dim), hidden=int(hidden))
            torch.manual_seed(int(seed))
            net = HashedClassifier(self.config)
            self._identity = (
                f"random:seed={int(seed)}:{self.config.buckets}x{self.config.dim}x{self.config.hidden}"
            )
        self.net = net.to(self.device).eval()
        self.tokenizer = HashTokenizer(self.config.buckets, self.config.max_features)

    @property
    def fingerprint(self) -> str:
        return f"torch:v1:{self._identity}:{self.precision}:{self.device.type}"

    def __repr__(self) -> str:
        return f"TorchModel({self.fingerprint})"

    def logits(self, prompts: Sequence[str]) -> torch.Tensor:
        flat, offsets = self.tokenizer.encode_batch(prompts)
        ids = torch.tensor(flat, dtype=torch.long, device=self.device)
        offs = torch.tensor(offsets, dtype=torch.long, device=self.device)
        dtype = PRECISIONS[self.precision]
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            out: torch.Tensor = self.net(ids, offs)
        return out.float()

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        labels = self.config.labels
        out: list[str] = []
        for i in range(0, len(prompts), self.batch_size):
            chunk = prompts[i : i + self.batch_size]
            best = self.logits(chunk).argmax(dim=1).tolist()
            out.extend(labels[j] for j in best)
        return out
