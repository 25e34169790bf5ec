"""Checking the engine against a dataset's own ground truth (CLadder): answers and numbers.

:func:`validate_cladder` rebuilds each question's causal model from the model metadata
(``structure`` and ``params``), recomputes the question's yes/no answer and the value its
``meta.groundtruth`` states (:func:`~.cladder.solve_question`, which never reads either), and
compares: answers exactly, numbers within a tolerance, adjustment sets as sets. This is the check
of the engine; the ``oracle`` model is not (it echoes each file's own answers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from pytest_causal_eval.engine.causal.cladder import CladderQuantities, GroundTruth, solve_question
from pytest_causal_eval.engine.causal.scm import CausalModel
from pytest_causal_eval.engine.data.loaders import iter_records, load_cladder_models
from pytest_causal_eval.engine.errors import DatasetError, EngineError

__all__ = ["Mismatch", "ValidationReport", "validate_cladder"]

DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One disagreement: ``what`` is ``"answer"`` or ``"value"`` (the ``meta.groundtruth``)."""

    question_id: str
    query_type: str
    what: str
    expected: Any  # as the dataset states it (JSON)
    computed: GroundTruth

    @property
    def error(self) -> float | None:
        if _is_number(self.expected) and _is_number(self.computed):
            return abs(float(self.computed) - float(self.expected))
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "query_type": self.query_type,
            "what": self.what,
            "expected": self.expected,
            "computed": self.computed,
            "error": self.error,
        }


@dataclass(slots=True)
class ValidationReport:
    """The outcome of checking one question file."""

    path: str
    meta_path: str
    tolerance: float
    total: int = 0
    matched: int = 0
    numeric_checked: int = 0
    max_error: float = 0.0
    max_error_at: tuple[str, str] | None = None  # (question id, query type)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.matched == self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "meta_path": self.meta_path,
            "tolerance": self.tolerance,
            "total": self.total,
            "matched": self.matched,
            "numeric_checked": self.numeric_checked,
            "max_error": self.max_error,
            "max_error_at": list(self.max_error_at) if self.max_error_at else None,
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _model(
    meta_path: Path, records: Mapping[int, Mapping[str, Any]], cache: dict[int, CausalModel], mid: int
) -> CausalModel:
    if mid not in cache:
        rec = records[mid]
        try:
            cache[mid] = CausalModel.from_cladder(str(rec["structure"]), rec["params"])
        except (EngineError, TypeError, ValueError) as exc:
            raise DatasetError(str(meta_path), f"model {mid}: {exc}", field="params") from None
    return cache[mid]


def validate_cladder(
    path: str | Path, meta: str | Path | None = None, *, tolerance: float = DEFAULT_TOLERANCE
) -> ValidationReport:
    """Recompute every question of a CLadder question file from its model; see the module doc.

    ``meta`` is the model metadata file (default: ``test-model-meta.json`` beside ``path``).
    Bad input (unreadable files, missing fields, a model id the metadata lacks, an unknown
    query type) raises :class:`~.errors.DatasetError` naming the file, line and field.
    """
    p = Path(path)
    meta_path = Path(meta) if meta is not None else p.with_name("test-model-meta.json")
    if not meta_path.is_file():
        raise DatasetError(str(meta_path), "no such model metadata file (give it with --meta)")
    records = load_cladder_models(meta_path)
    cache: dict[int, CausalModel] = {}
    report = ValidationReport(str(p), str(meta_path), tolerance)
    quantities: dict[int, CladderQuantities] = {}
    for line, rec in iter_records(p):
        if not isinstance(rec, Mapping):
            raise DatasetError(str(p), f"expected a JSON object, got {type(rec).__name__}", line=line)
        qmeta = rec.get("meta")
        if not isinstance(qmeta, Mapping):
            raise DatasetError(str(p), "missing or not an object", line=line, field="meta")
        for key in ("query_type", "model_id"):
            if key not in qmeta:
                raise DatasetError(str(p), "missing", line=line, field=f"meta.{key}")
        if "answer" not in rec:
            raise DatasetError(str(p), "missing", line=line, field="answer")
        qid = str(rec.get("question_id", f"line {line}"))
        qtype = str(qmeta["query_type"])
        try:
            mid = int(qmeta["model_id"])
        except (TypeError, ValueError):
            raise DatasetError(
                str(p), f"expected an integer, got {qmeta['model_id']!r}", line=line, field="meta.model_id"
            ) from None
        if mid not in records:
            raise DatasetError(str(p), f"model {mid} is not in {meta_path}", line=line, field="meta.model_id")
        model = _model(meta_path, records, cache, mid)
        t, o = str(qmeta.get("treatment", "X")), str(qmeta.get("outcome", "Y"))
        if mid not in quantities or (quantities[mid].treatment, quantities[mid].outcome) != (t, o):
            quantities[mid] = CladderQuantities(model, t, o)
        blind = {k: v for k, v in qmeta.items() if k != "groundtruth"}
        try:
            solution = solve_question(model, blind, quantities[mid])
        except EngineError as exc:
            raise DatasetError(str(p), str(exc), line=line, field=f"meta ({qtype})") from None
        report.total += 1
        before = len(report.mismatches)
        expected_answer = str(rec["answer"]).strip().lower()
        if solution.answer != expected_answer:
            report.mismatches.append(Mismatch(qid, qtype, "answer", expected_answer, solution.answer))
        if "groundtruth" in qmeta:
            _compare_value(report, qid, qtype, qmeta["groundtruth"], solution.value)
        if len(report.mismatches) == before:
            report.matched += 1
    if report.total == 0:
        raise DatasetError(str(p), "no questions in the file")
    return report


def _compare_value(
    report: ValidationReport, qid: str, qtype: str, expected: Any, computed: GroundTruth
) -> None:
    if _is_number(expected):
        report.numeric_checked += 1
        if not _is_number(computed):
            report.mismatches.append(Mismatch(qid, qtype, "value", expected, computed))
            return
        error = abs(float(computed) - float(expected))
        if math.isnan(error) or error > report.tolerance:
            report.mismatches.append(Mismatch(qid, qtype, "value", expected, computed))
        if not math.isnan(error) and (report.max_error_at is None or error > report.max_error):
            report.max_error, report.max_error_at = error, (qid, qtype)
        return
    if isinstance(expected, list):
        same = isinstance(computed, list) and sorted(map(str, expected)) == sorted(computed)
    else:
        same = str(expected) == str(computed)
    if not same:
        report.mismatches.append(Mismatch(qid, qtype, "value", expected, computed))
