"""Fitting the ``torch`` classifier on generated questions, with a held-out score per task.

Training and held-out questions come from different stream seeds, so they share no causal model
(cluster). Everything is seeded: the same call gives the same weights on the same machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pytest_causal_eval.engine.causal.tasks import create_task
from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.models.tokenizer import HashTokenizer
from pytest_causal_eval.engine.models.torch_model import LABELS, HashedClassifier, NetConfig, save_checkpoint

__all__ = ["TrainReport", "train_classifier"]


@dataclass(frozen=True)
class TrainReport:
    weights: Path
    train_n: int
    heldout_n: int
    epochs: int
    seconds: float
    train_accuracy: float
    heldout_accuracy: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": str(self.weights),
            "train_n": self.train_n,
            "heldout_n": self.heldout_n,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 3),
            "train_accuracy": self.train_accuracy,
            "heldout_accuracy": self.heldout_accuracy,
        }


def _questions(tasks: Sequence[str], n: int, seed: int, difficulty: str) -> list[Question]:
    out: list[Question] = []
    for name in tasks:
        out.extend(islice(create_task(name, difficulty=difficulty).questions(seed), n))
    return out


def _encode(tok: HashTokenizer, qs: Sequence[Question]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    flat, offsets = tok.encode_batch([q.prompt for q in qs])
    labels = [LABELS.index(q.answer) if q.answer in LABELS else 0 for q in qs]
    return torch.tensor(flat), torch.tensor(offsets), torch.tensor(labels)


def _accuracy(net: HashedClassifier, tok: HashTokenizer, qs: Sequence[Question]) -> float:
    if not qs:
        return 0.0
    ids, offs, y = _encode(tok, qs)
    with torch.inference_mode():
        pred = net(ids, offs).argmax(dim=1)
    return float((pred == y).float().mean())


def train_classifier(
    out: str | Path,
    *,
    tasks: Sequence[str],
    n_per_task: int = 4000,
    heldout_per_task: int = 1000,
    epochs: int = 8,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    difficulty: str = "medium",
    config: NetConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainReport:
    """Fit on ``n_per_task`` questions per task (stream seed ``seed``), score on ``heldout_per_task``
    questions per task from stream seed ``seed + 1_000_003``, save to ``out``."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    cfg = config or NetConfig()
    tok = HashTokenizer(cfg.buckets, cfg.max_features)
    train = [q for q in _questions(tasks, n_per_task, seed, difficulty) if q.answer in LABELS]
    heldout = {
        name: [
            q
            for q in _questions([name], heldout_per_task, seed + 1_000_003, difficulty)
            if q.answer in LABELS
        ]
        for name in tasks
    }
    encoded = [tok.encode(q.prompt) for q in train]
    labels = torch.tensor([LABELS.index(q.answer) for q in train])
    net = HashedClassifier(cfg)
    sparse = torch.optim.SparseAdam(list(net.embed.parameters()), lr=lr)
    dense = torch.optim.Adam([*net.hidden.parameters(), *net.out.parameters()], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(train), generator=gen).tolist()
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            flat: list[int] = []
            offsets: list[int] = []
            for j in idx:
                offsets.append(len(flat))
                flat.extend(encoded[j])
            sparse.zero_grad()
            dense.zero_grad()
            loss = loss_fn(net(torch.tensor(flat), torch.tensor(offsets)), labels[idx])
            loss.backward()
            sparse.step()  # type: ignore[no-untyped-call]
            dense.step()
            total += float(loss.detach()) * len(idx)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {total / max(1, len(train)):.4f}")
    net.eval()
    train_acc = _accuracy(net, tok, train[: min(len(train), 5000)])
    held = {name: _accuracy(net, tok, qs) for name, qs in heldout.items()}
    seconds = time.perf_counter() - start
    record = {
        "tasks": list(tasks),
        "difficulty": difficulty,
        "seed": seed,
        "n_per_task": n_per_task,
        "epochs": epochs,
        "heldout_accuracy": held,
        "train_accuracy": train_acc,
    }
    cfg = NetConfig(
        buckets=cfg.buckets, dim=cfg.dim, hidden=cfg.hidden, max_features=cfg.max_features, training=record
    )
    weights = save_checkpoint(net, cfg, out)
    return TrainReport(
        weights=weights,
        train_n=len(train),
        heldout_n=sum(len(v) for v in heldout.values()),
        epochs=epochs,
        seconds=seconds,
        train_accuracy=train_acc,
        heldout_accuracy=held,
    )
