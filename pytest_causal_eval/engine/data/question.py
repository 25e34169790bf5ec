"""The unit of evaluation: one question with its exact answer and provenance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["YES_NO", "Question"]

YES_NO: tuple[str, str] = ("yes", "no")


@dataclass(frozen=True, slots=True)
class Question:
    """A question put to a model.

    ``prompt`` is the full text a text-only model sees. ``answer`` is the correct choice, one of
    ``choices`` (``("yes", "no")`` for binary questions; option texts for multiple choice).
    ``cluster`` names the causal model (or source item group) the question came from: questions
    sharing a cluster are not independent. ``fields`` carries structured data (query type,
    estimand value, ...) that reference models such as the oracle may read.
    """

    id: str
    prompt: str
    answer: str
    choices: tuple[str, ...] = YES_NO
    task: str = ""
    rung: int | None = None
    graph: str | None = None
    cluster: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable mapping; :meth:`from_dict` reads it back."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "answer": self.answer,
            "choices": list(self.choices),
            "task": self.task,
            "rung": self.rung,
            "graph": self.graph,
            "cluster": self.cluster,
            "fields": dict(self.fields),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        rung = data.get("rung")
        return cls(
            id=str(data["id"]),
            prompt=str(data["prompt"]),
            answer=str(data["answer"]),
            choices=tuple(str(c) for c in data.get("choices") or YES_NO),
            task=str(data.get("task") or ""),
            rung=None if rung is None else int(rung),
            graph=None if data.get("graph") is None else str(data["graph"]),
            cluster=str(data.get("cluster") or data["id"]),
            fields=dict(data.get("fields") or {}),
        )
