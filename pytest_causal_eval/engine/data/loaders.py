"""Reading datasets into :class:`~.question.Question` streams (I/O only, no statistics).

Formats: CLadder question files (with optional model metadata for the story background),
BIG-Bench Hard style ``{"examples": [{"input", "target"}]}`` files, and generic JSON / JSONL
with a field mapping (``premise``/``question``/``choices``/``answer`` in the dataset's own
column names). JSONL is streamed line by line; JSON arrays are decoded item by item. Every
problem raises :class:`~.errors.DatasetError` naming the file, the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pytest_causal_eval.engine.data.question import YES_NO, Question
from pytest_causal_eval.engine.errors import DatasetError, EngineError, UnknownNameError

__all__ = [
    "DATASET_FORMATS",
    "FIELD_NAMES",
    "LABEL_BASES",
    "detect_format",
    "iter_records",
    "load_bbh",
    "load_cladder",
    "load_cladder_models",
    "load_dataset",
    "load_records",
]

DATASET_FORMATS = ("cladder", "bbh", "jsonl", "json")

#: Engine field names a generic dataset can map its columns to (``--field name=column``).
FIELD_NAMES = ("id", "prompt", "premise", "question", "choices", "answer", "task", "rung", "graph", "cluster")

_LIST_KEYS = ("examples", "outputs", "data", "questions", "items", "records", "rows")
_TRUE = {"yes", "true", "1", "y", "t"}
_FALSE = {"no", "false", "0", "n", "f"}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(str(path), f"cannot read: {exc}") from None


def _line_of(text: str, pos: int, cache: list[int]) -> int:
    # cache = [last_pos, last_line] so successive lookups scan forward only
    last_pos, last_line = cache
    if pos < last_pos:
        last_pos, last_line = 0, 1
    line = last_line + text.count("\n", last_pos, pos)
    cache[0], cache[1] = pos, line
    return line


def _iter_json_items(path: Path, text: str, start: int) -> Iterator[tuple[int, Any]]:
    """Decode the items of the JSON array whose ``[`` is at ``start``, with their line numbers."""
    decoder = json.JSONDecoder()
    cache = [0, 1]
    pos = start + 1
    n = len(text)
    expect_item = True
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            raise DatasetError(str(path), "bad JSON: unterminated array", line=_line_of(text, pos, cache))
        ch = text[pos]
        if ch == "]":
            return
        if ch == ",":
            if expect_item:
                raise DatasetError(str(path), "bad JSON: unexpected ','", line=_line_of(text, pos, cache))
            expect_item = True
            pos += 1
            continue
        if not expect_item:
            raise DatasetError(str(path), "bad JSON: expected ',' or ']'", line=_line_of(text, pos, cache))
        line = _line_of(text, pos, cache)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DatasetError(str(path), f"bad JSON: {exc.msg}", line=exc.lineno) from None
        expect_item = False
        yield line, obj


def iter_records(path: str | Path, records_key: str | None = None) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` pairs of a JSONL file, a JSON array, or a JSON object holding an array.

    JSONL is read lazily; a JSON file is read whole, then decoded one record at a time.
    """
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        try:
            handle = p.open(encoding="utf-8")
        except OSError as exc:
            raise DatasetError(str(p), f"cannot read: {exc}") from None
        with handle:
            for lineno, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    yield lineno, json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise DatasetError(str(p), f"bad JSON: {exc.msg}", line=lineno) from None
        return
    text = _read_text(p)
    stripped = text.lstrip()
    if not stripped:
        raise DatasetError(str(p), "empty file (expected JSON or JSONL records)")
    if stripped.startswith("["):
        yield from _iter_json_items(p, text, len(text) - len(stripped))
        return
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(str(p), f"bad JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(whole, dict):
        raise DatasetError(str(p), "expected a JSON array of records or an object holding one")
    keys = [records_key] if records_key else [k for k in _LIST_KEYS if isinstance(whole.get(k), list)]
    if not keys or not isinstance(whole.get(keys[0]), list):
        wanted = records_key or " / ".join(_LIST_KEYS)
        raise DatasetError(str(p), "no array of records found", field=wanted)
    key = keys[0]
    # locate the array in the text to report line numbers
    anchor = text.find(json.dumps(key))
    bracket = text.find("[", anchor if anchor >= 0 else 0)
    if anchor >= 0 and bracket >= 0:
        yield from _iter_json_items(p, text, bracket)
    else:  # pragma: no cover - key spelled with escapes
        yield from ((0, rec) for rec in whole[key])


def _need(path: Path, line: int, record: Mapping[str, Any], key: str) -> Any:
    if not isinstance(record, Mapping):
        raise DatasetError(str(path), f"expected a JSON object, got {type(record).__name__}", line=line)
    if key not in record or record[key] is None:
        raise DatasetError(str(path), "missing", line=line, field=key)
    return record[key]


def _yes_no(path: Path, line: int, field: str, value: Any) -> str:
    text = str(value).strip().lower()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if text in _TRUE:
        return "yes"
    if text in _FALSE:
        return "no"
    raise DatasetError(str(path), f"expected yes/no, got {value!r}", line=line, field=field)


# ---------------------------------------------------------------------- CLadder
def load_cladder_models(path: str | Path) -> dict[int, dict[str, Any]]:
    """CLadder model metadata by ``model_id``."""
    p = Path(path)
    out: dict[int, dict[str, Any]] = {}
    for line, rec in iter_records(p):
        mid = _need(p, line, rec, "model_id")
        for key in ("structure", "params"):
            _need(p, line, rec, key)
        try:
            out[int(mid)] = dict(rec)
        except (TypeError, ValueError):
            raise DatasetError(
                str(p), f"expected an integer, got {mid!r}", line=line, field="model_id"
            ) from None
    if not out:
        raise DatasetError(str(p), "no models in the file")
    return out


def load_cladder(path: str | Path, models: str | Path | None = None) -> Iterator[Question]:
    """Questions of a CLadder ``test-generate-*.json`` file.

    With ``models`` (the model metadata file; by default ``test-model-meta.json`` beside the
    questions, when present) each prompt starts with the model's background story.
    """
    p = Path(path)
    meta_path = Path(models) if models is not None else p.with_name("test-model-meta.json")
    backgrounds: dict[int, str] = {}
    if models is not None or meta_path.exists():
        backgrounds = {k: str(v.get("background", "")) for k, v in load_cladder_models(meta_path).items()}
    stem = p.stem
    count = 0
    for line, rec in iter_records(p):
        count += 1
        qid = _need(p, line, rec, "question_id")
        given = _need(p, line, rec, "given_info")
        question = _need(p, line, rec, "question")
        answer = _yes_no(p, line, "answer", _need(p, line, rec, "answer"))
        meta = _need(p, line, rec, "meta")
        if not isinstance(meta, Mapping):
            raise DatasetError(str(p), "expected an object", line=line, field="meta")
        for key in ("query_type", "rung", "graph_id", "model_id"):
            if key not in meta:
                raise DatasetError(str(p), "missing", line=line, field=f"meta.{key}")
        model_id = int(meta["model_id"])
        background = backgrounds.get(model_id, "")
        parts = [s for s in (background, str(given), str(question)) if s]
        yield Question(
            id=f"{stem}/{qid}",
            prompt=" ".join(parts) + "\nAnswer yes or no.",
            answer=answer,
            task=f"cladder:{meta['query_type']}",
            rung=int(meta["rung"]),
            graph=str(meta["graph_id"]),
            cluster=f"cladder-model/{model_id}",
            fields={"query": str(meta["query_type"]), "model_id": model_id, "meta": dict(meta)},
        )
    if count == 0:
        raise DatasetError(str(p), "no questions in the file")


# ---------------------------------------------------------------------- BIG-Bench Hard
def load_bbh(path: str | Path, task: str | None = None) -> Iterator[Question]:
    """BIG-Bench Hard yes/no items: ``{"examples": [{"input", "target"}]}`` (or ``"outputs"``)."""
    p = Path(path)
    name = task or p.stem.replace("-", "_")
    count = 0
    for i, (line, rec) in enumerate(iter_records(p)):
        prompt = _need(p, line, rec, "input")
        answer = _yes_no(p, line, "target", _need(p, line, rec, "target"))
        qid = f"{name}/{i}"
        yield Question(id=qid, prompt=str(prompt), answer=answer, task=name, cluster=qid)
        count = i + 1
    if count == 0:
        raise DatasetError(str(p), "no records in the file")


# ---------------------------------------------------------------------- generic
#: How an integer label counts the choices: ``0`` (first choice is 0) or ``1`` (first is 1).
LABEL_BASES = (0, 1)


class _Record:
    """One record of a generic dataset, for messages that name the file, line, record and field."""

    __slots__ = ("line", "number", "path", "rec")

    def __init__(self, path: Path, line: int, number: int, rec: Mapping[str, Any]) -> None:
        self.path, self.line, self.number, self.rec = path, line, number, rec

    def error(self, message: str, field: str | None = None) -> DatasetError:
        return DatasetError(str(self.path), f"{message} (record {self.number})", line=self.line, field=field)

    def get(self, column: str, required: bool) -> Any:
        value = self.rec.get(column)
        if value is None and required:
            raise self.error("missing", column)
        return value


def _label_index(rec: _Record, field: str, value: Any, choices: tuple[str, ...], base: int) -> str:
    index = int(value) - base
    if 0 <= index < len(choices):
        return choices[index]
    top = len(choices) - 1 + base
    raise rec.error(
        f"label index {value} outside the {len(choices)} choices (counting from {base}: {base}..{top}"
        + ("" if base else "; pass --label-base 1 if the labels count from 1")
        + ")",
        field,
    )


def _choice_answer(rec: _Record, field: str, value: Any, choices: tuple[str, ...], base: int) -> str:
    yes_no = choices == YES_NO
    if isinstance(value, bool):
        if yes_no:
            return "yes" if value else "no"
        raise rec.error(f"boolean label {value!r} with choices {list(choices)}", field)
    if isinstance(value, int) and yes_no:
        if value in (0, 1):
            return "yes" if value else "no"
        raise rec.error(f"integer label {value} on a yes/no question: expected 1 (yes) or 0 (no)", field)
    if isinstance(value, int):
        return _label_index(rec, field, value, choices, base)
    if not isinstance(value, str):
        raise rec.error(f"expected a choice's text, letter or index, got {value!r}", field)
    text = value.strip()
    lowered = [c.lower() for c in choices]
    if text.lower() in lowered:
        return choices[lowered.index(text.lower())]
    if yes_no:
        if text.lower() in _TRUE:
            return "yes"
        if text.lower() in _FALSE:
            return "no"
        raise rec.error(f"expected yes/no, got {value!r}", field)
    letter = text.strip("()").lower()
    if len(letter) == 1 and "a" <= letter < chr(ord("a") + len(choices)):
        return choices[ord(letter) - ord("a")]
    if text.isdigit():
        return _label_index(rec, field, int(text), choices, base)
    raise rec.error(f"label {value!r} is none of the choices {list(choices)}", field)


def _choices(rec: _Record, columns: list[str], mapped: bool) -> tuple[str, ...]:
    """The choices of a record: one column holding a list, or one string per column."""
    if len(columns) > 1:
        out: list[str] = []
        for column in columns:
            value = rec.get(column, required=True)
            if not isinstance(value, str):
                raise rec.error(f"expected a string choice, got {type(value).__name__} {value!r}", column)
            out.append(value)
        return tuple(out)
    (column,) = columns
    raw = rec.get(column, required=mapped)
    if raw is None or raw == []:
        return YES_NO
    if not isinstance(raw, list):
        raise rec.error(f"expected a list of strings, got {type(raw).__name__}", column)
    for j, c in enumerate(raw):
        if not isinstance(c, str):
            raise rec.error(f"choice {j + 1} is {type(c).__name__} {c!r}, not a string", column)
    if len(raw) < 2:
        raise rec.error(f"expected at least two choices, got {len(raw)}", column)
    return tuple(raw)


def load_records(
    path: str | Path,
    fields: Mapping[str, str] | None = None,
    *,
    task: str | None = None,
    records_key: str | None = None,
    label_base: int = 0,
) -> Iterator[Question]:
    """Questions from any JSON/JSONL dataset, given which of its columns hold what.

    ``fields`` maps engine names (:data:`FIELD_NAMES`) to the dataset's column names; unmapped
    names default to themselves (and are optional), a mapped column must be in every record.
    ``choices`` names one column holding a list of strings, or several columns separated by
    commas (``"hypothesis1,hypothesis2"``), each holding one string choice. The prompt is the
    ``prompt`` column, or else ``premise`` and/or ``question`` joined by a newline and followed
    by the lettered choices when there are any. ``answer`` may be a choice's text, its letter
    (``B``, ``(B)``), or its index counted from ``label_base`` (0 or 1); without choices the
    question is yes/no and the answer is yes/no/true/false/1/0.
    """
    p = Path(path)
    mapping = dict(fields or {})
    unknown = sorted(set(mapping) - set(FIELD_NAMES))
    if unknown:
        raise UnknownNameError("field", unknown[0], FIELD_NAMES)
    if label_base not in LABEL_BASES:
        raise EngineError(f"label base must be 0 or 1, got {label_base!r}")
    col = {name: mapping.get(name, name) for name in FIELD_NAMES}
    choice_columns = [c.strip() for c in col["choices"].split(",")] if "choices" in mapping else ["choices"]
    if not all(choice_columns):
        raise EngineError(f"field mapping choices={col['choices']!r}: empty column name")
    name = task or p.stem
    number = 0
    for line, raw in iter_records(p, records_key):
        number += 1
        if not isinstance(raw, Mapping):
            raise DatasetError(
                str(p), f"expected a JSON object, got {type(raw).__name__} (record {number})", line=line
            )
        rec = _Record(p, line, number, raw)
        for engine_name in ("id", "premise", "question", "task", "rung", "graph", "cluster"):
            if engine_name in mapping:
                rec.get(col[engine_name], required=True)
        choices = _choices(rec, choice_columns, "choices" in mapping)
        listed = (
            ""
            if choices == YES_NO
            else "\n".join(f"({chr(ord('A') + j)}) {c}" for j, c in enumerate(choices))
        )
        prompt_value = rec.get(col["prompt"], required="prompt" in mapping)
        if prompt_value is not None:
            prompt = str(prompt_value)
        else:
            parts = [raw.get(col["premise"]), raw.get(col["question"])]
            if parts == [None, None]:
                need = f"{col['prompt']!r}, {col['premise']!r} or {col['question']!r}"
                raise rec.error(f"missing (need a {need} column)", col["question"])
            prompt = "\n".join(str(s) for s in parts if s is not None)
            if listed:
                prompt = f"{prompt}\n{listed}\nAnswer with the letter of one option."
            else:
                prompt = f"{prompt}\nAnswer yes or no."
        answer = _choice_answer(
            rec, col["answer"], rec.get(col["answer"], required=True), choices, label_base
        )
        qid = str(raw.get(col["id"], f"{name}/{number - 1}"))
        rung = raw.get(col["rung"])
        try:
            rung_value = None if rung is None else int(rung)
        except (TypeError, ValueError):
            raise rec.error(f"expected an integer, got {rung!r}", col["rung"]) from None
        extra = raw.get("fields")
        yield Question(
            id=qid,
            prompt=prompt,
            answer=answer,
            choices=choices,
            task=str(raw.get(col["task"]) or name),
            rung=rung_value,
            graph=None if raw.get(col["graph"]) is None else str(raw[col["graph"]]),
            cluster=str(raw.get(col["cluster"]) or qid),
            fields=dict(extra) if isinstance(extra, Mapping) else {},
        )
    if number == 0:
        raise DatasetError(str(p), "no records in the file")


def detect_format(path: str | Path) -> str:
    """Guess a dataset's format from its extension and first record."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        return "jsonl"
    for _, rec in iter_records(p):
        if isinstance(rec, Mapping):
            if "meta" in rec and "given_info" in rec and "question" in rec:
                return "cladder"
            if "input" in rec and "target" in rec:
                return "bbh"
        break
    return "json"


def load_dataset(
    path: str | Path,
    format: str | None = None,
    fields: Mapping[str, str] | None = None,
    *,
    label_base: int | None = None,
    **options: Any,
) -> Iterator[Question]:
    """Questions from a dataset file in any supported format (auto-detected when ``None``).

    ``fields`` and ``label_base`` apply to the generic json/jsonl formats (:func:`load_records`).
    """
    fmt = format or detect_format(path)
    if fmt not in DATASET_FORMATS:
        raise UnknownNameError("dataset format", fmt, DATASET_FORMATS)
    if fmt in ("cladder", "bbh"):
        if fields:
            raise DatasetError(str(path), f"field mappings apply to the json/jsonl formats, not {fmt}")
        if label_base is not None:
            raise DatasetError(str(path), f"the label base applies to the json/jsonl formats, not {fmt}")
    if fmt == "cladder":
        return load_cladder(path, **options)
    if fmt == "bbh":
        return load_bbh(path, **options)
    if label_base is not None:
        options["label_base"] = label_base
    return load_records(path, fields, **options)
