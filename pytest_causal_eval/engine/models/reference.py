"""Reference models: they need no weights and no server, and each answers for a known reason.

``oracle`` (the question's own answer: 100% on generated tasks), ``constant``, ``random`` (seeded
per prompt), ``spin`` (deliberately CPU-bound) and ``lookup`` (the oracle for text-only front
ends: regenerates seeded task streams and answers by prompt).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.models.base import TextModel

__all__ = ["ConstantModel", "LookupModel", "OracleModel", "RandomModel", "SpinModel"]


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


class SpinModel(TextModel):
    """A deliberately CPU-bound model: burns ``work`` hash rounds per prompt, holding the GIL.

    Answers yes/no from a digest of the prompt (deterministic, independent of batching), so it
    measures how executors spread pure-Python CPU work, not model quality.
    """

    name = "spin"

    def __init__(self, work: int = 2000) -> None:
        if int(work) < 0:
            raise EngineError(f"spin model: work must be >= 0, got {work}")
        self.work = int(work)

    @property
    def fingerprint(self) -> str:
        return f"spin:v1:work={self.work}"

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for prompt in prompts:
            digest = hashlib.blake2b(prompt.encode("utf-8"), digest_size=16).digest()
            for _ in range(self.work):
                digest = hashlib.blake2b(digest, digest_size=16).digest()
            out.append("yes" if digest[0] & 1 else "no")
        return out


class LookupModel(TextModel):
    """The oracle for text-only front ends: regenerates seeded task streams, answers by prompt lookup.

    A server (``causal-eval serve``) only sees prompt text, so it cannot read a question's
    structured answer. This model is told where the questions come from (task names, seed,
    difficulty, how many) and answers a prompt with the exact answer of the generated question
    that has that prompt. A prompt it did not generate raises ``LookupError``.
    """

    name = "lookup"

    def __init__(self, task: str, seed: int = 0, n: int = 2000, difficulty: str = "medium") -> None:
        from pytest_causal_eval.engine.causal.tasks import create_task  # numpy: loaded for lookup only

        names = [t.strip() for t in str(task).split(",") if t.strip()]
        if not names:
            raise EngineError("lookup model: task must name at least one task")
        if int(n) < 1:
            raise EngineError(f"lookup model: n must be >= 1, got {n}")
        self.tasks = tuple(names)
        self.seed = int(seed)
        self.n = int(n)
        self.difficulty = str(difficulty)
        self._answers: dict[str, str] = {}
        for name in self.tasks:
            stream = create_task(name, difficulty=self.difficulty).questions(self.seed)
            for _, q in zip(range(self.n), stream, strict=False):
                self._answers.setdefault(q.prompt, q.answer)

    @property
    def fingerprint(self) -> str:
        return f"lookup:v1:{','.join(self.tasks)}:seed={self.seed}:n={self.n}:{self.difficulty}"

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for prompt in prompts:
            try:
                out.append(self._answers[prompt])
            except KeyError:
                raise LookupError(
                    f"prompt not among the first {self.n} questions of {','.join(self.tasks)} "
                    f"(seed {self.seed}, {self.difficulty}): {prompt[:60]!r}..."
                ) from None
        return out
