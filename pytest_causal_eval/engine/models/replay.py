"""``replay``: recorded responses from a JSON/JSONL file, replayed for the questions they answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_causal_eval.engine.data.extraction import extract_answer
from pytest_causal_eval.engine.data.loaders import iter_records, load_dataset
from pytest_causal_eval.engine.errors import DatasetError, EngineError, UnknownNameError
from pytest_causal_eval.engine.models.base import TextModel

__all__ = ["REPLAY_MATCHES", "ReplayModel"]

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
      format :func:`~.loaders.load_dataset` reads, with ``dataset_format``, ``dataset_fields`` and
      ``label_base`` as it takes them); every record's ``target_field`` must name
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
        dataset_format: str | None = None,
        dataset_fields: dict[str, str] | None = None,
        label_base: int | None = None,
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
            questions = list(load_dataset(dataset, dataset_format, dataset_fields, label_base=label_base))
            self._pair_in_order(records, questions, Path(dataset), target_field, digest)
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
        self,
        records: list[_Recording],
        questions: list[Any],
        dataset: Path,
        target_field: str,
        digest: Any,
    ) -> None:
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
