"""Models behind one small batched protocol, and a registry of them by name.

A model answers a batch of :class:`~.question.Question` objects with one string each.
Text-only models (HTTP, torch, replay, ...) subclass :class:`TextModel` and implement
``generate_text(prompts)``: they see only ``question.prompt``. Reference models such as the
oracle read the question's structured fields. ``fingerprint`` is a stable string covering
everything that changes a model's answers; response caches key on it.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import DatasetError, EngineError, UnknownNameError
from .loaders import iter_records
from .question import Question

__all__ = [
    "MODELS",
    "ConstantModel",
    "Model",
    "OracleModel",
    "RandomModel",
    "ReplayModel",
    "TextModel",
    "create_model",
    "model_names",
    "register_model",
]


@runtime_checkable
class Model(Protocol):
    """What the evaluator needs from a model."""

    @property
    def name(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    def generate(self, questions: Sequence[Question]) -> list[str]:
        """One response per question, in order."""
        ...


class TextModel(ABC):
    """Base for models that only read prompt text."""

    name: str = "text"

    @property
    @abstractmethod
    def fingerprint(self) -> str: ...

    @abstractmethod
    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        """One completion per prompt, in order."""

    def generate(self, questions: Sequence[Question]) -> list[str]:
        return self.generate_text([q.prompt for q in questions])


class OracleModel:
    """Answers every question from its structured answer: 100% on generated tasks."""

    name = "oracle"
    fingerprint = "oracle:v1"

    def generate(self, questions: Sequence[Question]) -> list[str]:
        return [q.answer for q in questions]


class ConstantModel(TextModel):
    """Always gives the same response."""

    name = "constant"

    def __init__(self, answer: str = "yes") -> None:
        self.answer = str(answer)

    @property
    def fingerprint(self) -> str:
        return f"constant:v1:{json.dumps(self.answer)}"

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        return [self.answer] * len(prompts)


class RandomModel:
    """Picks a choice uniformly at random, seeded per prompt (independent of batching/order)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._key = self.seed.to_bytes(8, "little", signed=True)

    @property
    def fingerprint(self) -> str:
        return f"random:v1:seed={self.seed}"

    def generate(self, questions: Sequence[Question]) -> list[str]:
        out: list[str] = []
        for q in questions:
            digest = hashlib.blake2b(q.prompt.encode("utf-8"), digest_size=8, key=self._key).digest()
            out.append(q.choices[int.from_bytes(digest, "little") % len(q.choices)])
        return out


class ReplayModel(TextModel):
    """Recorded responses from a JSON/JSONL file, looked up by prompt.

    Each record holds a prompt (``prompt_field``, default ``input``) and the recorded response
    (``response_field``, default ``prediction``). A prompt with no recording raises
    ``LookupError``, which the evaluator records as a failed call.
    """

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        prompt_field: str = "input",
        response_field: str = "prediction",
        records_key: str | None = None,
    ) -> None:
        p = Path(path)
        self.path = p
        self.prompt_field = prompt_field
        self.response_field = response_field
        self._answers: dict[str, str] = {}
        digest = hashlib.sha256()
        for line, rec in iter_records(p, records_key):
            if not isinstance(rec, dict):
                raise DatasetError(str(p), "expected a JSON object", line=line)
            for key in (prompt_field, response_field):
                if rec.get(key) is None:
                    raise DatasetError(str(p), "missing", line=line, field=key)
            prompt, response = str(rec[prompt_field]), str(rec[response_field])
            previous = self._answers.setdefault(prompt, response)
            if previous != response:
                raise DatasetError(str(p), "prompt recorded twice with different responses", line=line)
            digest.update(json.dumps([prompt, response]).encode("utf-8"))
        self._digest = digest.hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return f"replay:v1:{self._digest}"

    def __len__(self) -> int:
        return len(self._answers)

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for prompt in prompts:
            try:
                out.append(self._answers[prompt])
            except KeyError:
                raise LookupError(f"no recorded response for prompt {prompt[:60]!r}...") from None
        return out


ModelFactory = Callable[..., Model]

MODELS: dict[str, ModelFactory] = {
    "oracle": OracleModel,
    "random": RandomModel,
    "constant": ConstantModel,
    "replay": ReplayModel,
}


def register_model(name: str, factory: ModelFactory) -> None:
    """Make ``create_model(name, ...)`` build models with ``factory`` (e.g. HTTP or torch models)."""
    MODELS[name] = factory


def model_names() -> list[str]:
    return sorted(MODELS)


def create_model(name: str, **options: Any) -> Model:
    """A model by registry name; unknown names raise an error listing the valid ones."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise UnknownNameError("model", name, MODELS) from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise EngineError(f"bad options for model {name!r}: {exc}") from None
