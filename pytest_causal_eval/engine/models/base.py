"""What the engine needs from a model: the batched :class:`Model` protocol and :class:`TextModel`.

A model answers a batch of :class:`~.question.Question` objects with one string each.
Text-only models (HTTP, torch, replay, ...) subclass :class:`TextModel` and implement
``generate_text(prompts)``: they see only ``question.prompt``. Reference models such as the
oracle read the question's structured fields. ``fingerprint`` is a stable string covering
everything that changes a model's answers; response caches key on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pytest_causal_eval.engine.data.question import Question

__all__ = ["Model", "TextModel"]


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
