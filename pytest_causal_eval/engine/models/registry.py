"""Models behind one small batched protocol, and a registry of them by name.

A model answers a batch of :class:`~.question.Question` objects with one string each.
Text-only models (HTTP, torch, replay, ...) subclass :class:`TextModel` and implement
``generate_text(prompts)``: they see only ``question.prompt``. Reference models such as the
oracle read the question's structured fields. ``fingerprint`` is a stable string covering
everything that changes a model's answers; response caches key on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pytest_causal_eval.engine.data.loaders import iter_records
from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import DatasetError, EngineError, UnknownNameError

__all__ = [
    "MODELS",
    "REPLAY_MATCHES",
    "ConstantModel",
    "LookupModel",
    "Model",
    "ModelSpec",
    "OracleModel",
    "RandomModel",
    "ReplayModel",
    "SpinModel",
    "TextModel",
    "create_model",
    "model_names",
    "model_spec",
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


#: How :class:`ReplayModel` pairs a question with a recorded response.
REPLAY_MATCHES = ("auto", "exact", "order")

# a recorded input's line must be this long to serve as an index key for containment look-ups
_KEY_LINE = 20


class _Recording:
    """One recorded response: where it is in the file, what was asked, the answer, the target."""

    __slots__ = ("line", "prompt", "response", "target")

    def __init__(self, line: int, prompt: str, response: str, target: Any) -> None:
        self.line, self.prompt, self.response, self.target = line, prompt, response, target


class ReplayModel(TextModel):
    """Recorded responses from a JSON/JSONL file, replayed for the questions they answer.

    Each record holds what was asked (``prompt_field``, default ``input``) and the recorded
    response (``response_field``, default ``prediction``). ``match`` says how a question finds its
    record:

    * ``"auto"`` (default): the record whose input is the question's prompt; else the record whose
      input *contains* the prompt, as when a recording's input is a few-shot prompt followed by the
      question (BIG-Bench Hard's published outputs). When several inputs contain it, the one where
      the least text follows it (the question actually asked, not a few-shot example) is taken;
      a tie between different responses is ambiguous.
    * ``"exact"``: only the record whose input is the prompt.
    * ``"order"``: the i-th record answers the i-th question of ``dataset`` (a dataset file in any
      format :func:`~.loaders.load_dataset` detects); every record's ``target_field`` must name
      the same answer as its question, so files in different orders are caught when loading.

    A question with no recording raises ``LookupError``, which the evaluator records as a failed
    call.
    """

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        prompt_field: str = "input",
        response_field: str = "prediction",
        records_key: str | None = None,
        match: str = "auto",
        dataset: str | Path | None = None,
        target_field: str = "target",
    ) -> None:
        if match not in REPLAY_MATCHES:
            raise UnknownNameError("replay match", match, REPLAY_MATCHES)
        if (match == "order") != (dataset is not None):
            raise EngineError(
                "replay: match=order needs dataset=PATH (the questions the records answer, in order)"
                if match == "order"
                else f"replay: dataset= applies to match=order, not match={match}"
            )
        p = Path(path)
        self.path = p
        self.prompt_field = prompt_field
        self.response_field = response_field
        self.match = match
        self._answers: dict[str, str] = {}
        digest = hashlib.sha256()
        records: list[_Recording] = []
        for line, rec in iter_records(p, records_key):
            if not isinstance(rec, dict):
                raise DatasetError(str(p), "expected a JSON object", line=line)
            for key in (prompt_field, response_field):
                if rec.get(key) is None:
                    raise DatasetError(str(p), "missing", line=line, field=key)
            recording = _Recording(
                line, str(rec[prompt_field]), str(rec[response_field]), rec.get(target_field)
            )
            records.append(recording)
            digest.update(json.dumps([recording.prompt, recording.response]).encode("utf-8"))
        if not records:
            raise DatasetError(str(p), "no recorded responses in the file")
        self._records = records
        self._by_line: dict[str, list[int]] = {}
        if match == "order":
            assert dataset is not None
            self._pair_in_order(records, Path(dataset), target_field, digest)
        else:
            for recording in records:
                previous = self._answers.setdefault(recording.prompt, recording.response)
                if previous != recording.response:
                    raise DatasetError(
                        str(p), "prompt recorded twice with different responses", line=recording.line
                    )
            if match == "auto":
                for i, recording in enumerate(records):
                    for text in set(recording.prompt.split("\n")):
                        if len(text) >= _KEY_LINE:
                            self._by_line.setdefault(text, []).append(i)
        self._digest = digest.hexdigest()[:16]

    def _pair_in_order(
        self, records: list[_Recording], dataset: Path, target_field: str, digest: Any
    ) -> None:
        from pytest_causal_eval.engine.data.extraction import extract_answer
        from pytest_causal_eval.engine.data.loaders import load_dataset

        questions = list(load_dataset(dataset))
        if len(questions) != len(records):
            raise DatasetError(
                str(self.path),
                f"{len(records)} recorded responses for the {len(questions)} questions of {dataset}: "
                "match=order pairs them one to one",
            )
        for recording, question in zip(records, questions, strict=True):
            if recording.target is None:
                raise DatasetError(
                    str(self.path),
                    "missing: match=order checks each record's target against its question",
                    line=recording.line,
                    field=target_field,
                )
            target = str(recording.target)
            if extract_answer(target, question.choices, "strict") != question.answer:
                raise DatasetError(
                    str(self.path),
                    f"target {target!r} but question {question.id} of {dataset} has answer "
                    f"{question.answer!r}: the files are not in the same order",
                    line=recording.line,
                    field=target_field,
                )
            digest.update(json.dumps(["order", question.prompt]).encode("utf-8"))
            previous = self._answers.setdefault(question.prompt, recording.response)
            if previous != recording.response:
                raise DatasetError(
                    str(self.path),
                    f"question {question.id} has the same prompt as an earlier question whose "
                    "recorded response differs; a text model cannot tell them apart",
                    line=recording.line,
                )

    @property
    def fingerprint(self) -> str:
        # auto answers every prompt exact would, the same way: they share cached responses
        return f"replay:v1:{self._digest}"

    def __len__(self) -> int:
        return len(self._answers)

    def _contained(self, prompt: str) -> str:
        """The response recorded for an input that contains ``prompt`` (see the class doc)."""
        needle = prompt.strip()
        lines = [ln for ln in needle.split("\n") if len(ln) >= _KEY_LINE]
        # a whole line of the prompt is a whole line of the recorded input, except perhaps the
        # first and last (the recording may wrap the question as "Q: ...\nA:")
        inner = [ln for ln in needle.split("\n")[1:-1] if len(ln) >= _KEY_LINE]
        key = max(inner or lines, key=len) if lines else None
        if key is not None and inner:
            candidates = self._by_line.get(key, [])
        else:
            candidates = list(range(len(self._records)))
        best: list[_Recording] = []
        best_tail = -1
        for i in candidates:
            recording = self._records[i]
            at = recording.prompt.rfind(needle)
            if at < 0:
                continue
            tail = len(recording.prompt) - at - len(needle)
            if not best or tail < best_tail:
                best, best_tail = [recording], tail
            elif tail == best_tail:
                best.append(recording)
        if not best:
            raise LookupError(f"no recorded response for prompt {prompt[:60]!r}...")
        responses = {r.response for r in best}
        if len(responses) > 1:
            lines_at = ", ".join(str(r.line) for r in best)
            raise LookupError(
                f"prompt {prompt[:60]!r}... ends the recorded inputs at lines {lines_at} of {self.path} "
                "with different responses: pair them with match=order"
            )
        return best[0].response

    def generate_text(self, prompts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for prompt in prompts:
            answer = self._answers.get(prompt)
            if answer is None:
                if self.match != "auto":
                    raise LookupError(f"no recorded response for prompt {prompt[:60]!r}...")
                answer = self._contained(prompt)
            out.append(answer)
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
        from pytest_causal_eval.engine.causal.tasks import create_task

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


ModelFactory = Callable[..., Model]


@dataclass(frozen=True)
class ModelSpec:
    """How to rebuild a model in another process: a registry name and its options (JSON-like)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Model:
        return create_model(self.name, **dict(self.options))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}


def _lazy(module: str, attr: str) -> ModelFactory:
    """A factory that imports ``module`` (of this subpackage) only when a model is created: the
    optional dependencies (torch, httpx, transformers) load with the first such model."""

    def factory(**options: Any) -> Model:
        cls = getattr(importlib.import_module(f"pytest_causal_eval.engine.models.{module}"), attr)
        model: Model = cls(**options)
        return model

    factory.__name__ = f"{attr}_factory"
    return factory


MODELS: dict[str, ModelFactory] = {
    "oracle": OracleModel,
    "random": RandomModel,
    "constant": ConstantModel,
    "replay": ReplayModel,
    "spin": SpinModel,
    "lookup": LookupModel,
    "torch": _lazy("torch_model", "TorchModel"),
    "openai": _lazy("openai_model", "OpenAIModel"),
    "hf": _lazy("hf_model", "HFModel"),
}


def register_model(name: str, factory: ModelFactory) -> None:
    """Make ``create_model(name, ...)`` build models with ``factory`` (e.g. HTTP or torch models)."""
    MODELS[name] = factory


def model_names() -> list[str]:
    return sorted(MODELS)


def create_model(name: str, **options: Any) -> Model:
    """A model by registry name; unknown names raise an error listing the valid ones.

    The model remembers how it was made (:func:`model_spec`), so process and Ray executors can
    rebuild it in their workers.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise UnknownNameError("model", name, MODELS) from None
    try:
        model = factory(**options)
    except TypeError as exc:
        raise EngineError(f"bad options for model {name!r}: {exc}") from None
    with contextlib.suppress(AttributeError, TypeError):  # slotted/frozen objects: no spec
        setattr(model, "model_spec", ModelSpec(name, dict(options)))  # noqa: B010
    return model


def model_spec(model: Model) -> ModelSpec | None:
    """The spec ``create_model`` attached to ``model``, if any."""
    spec = getattr(model, "model_spec", None)
    return spec if isinstance(spec, ModelSpec) else None
