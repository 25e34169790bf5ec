"""The baseline document: schema version, migrations from older layouts, entries, stable text.

Version 1 (current)::

    {
      "schema_version": 1,
      "tool": "pytest-causal-eval",
      "tool_version": "<the plugin version that last wrote the file>",
      "machine": {"key": "...", "hard": {...}, "soft": {...}},
      "measurements": {
        "<measurement id>": {
          "id", "test_id", "name", "params", "first_seen", "last_seen", "tool_version",
          "time": {"unit": "s", "iterations", "rounds", "summary": {...}, "samples": [...],
                   "sessions": [{"median", "code", "at", "foreign_share"?}, ...]} | null,
          "metrics": {"<name>": {"value", "unit", "better", "samples": [...] | null}},
          "noise": {"cv", "mdc", ...}
        }
      }
    }

Version 0 (a plausible older layout, pytest-benchmark-like) is migrated on load::

    {"version": 0, "machine_key": "...", "benchmarks": [
        {"fullname": "<id>", "stats": {"median", "iqr", "rounds", ...}, "data": [...],
         "metrics": {"<name>": <value>}, "saved": "<iso date>"}]}

``pytest_causal_eval/schema/baseline-v1.json`` is its JSON Schema. Loading checks the structure
(``validate``: a file that fails is unusable) and then every entry's numbers (``entry_problem``: the
bounds of ``numbers``, as in the schema); an entry with a bad number (``NaN``, ``true``, a negative
or zero time, a median ``"fast"``) is quarantined: never gated on, kept as it is in the file on the
next save (a save that measured it replaces it), and named with its field. A document whose
``schema_version`` is newer than this plugin's is refused with ``SchemaTooNewError``, naming the
version of the plugin that wrote it (top-level ``tool_version``).

Samples are bounded (``MAX_SAMPLES`` per quantity, evenly subsampled, deterministic) and rounded to
six significant digits so that re-saving the same numbers does not churn the file.

``time.sessions`` survives a save, as ``first_seen`` does (``store.save_entries``): the median time of each
saving session (the last ``MAX_SESSIONS``), with the code it measured (``code``: a digest of the
committed files apart from the baselines, see ``baseline.code_identity``; empty for a dirty or
unknown tree) and when, and the share of the CPUs other processes took during its timed rounds
(``foreign_share``, 0..1; absent when it was not read, as in files written before it was recorded).
Sessions that measured the *same* code tell how far two sessions on the same code drift apart;
``session_floor`` turns them into the gate's between-process allowance when that drift is larger
than the default (see ``baseline.gate``). A session saved under foreign load at or above the
limit is slow for a reason that is not the code: the floor and the center (``baseline.center``)
leave it out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_causal_eval import numbers
from pytest_causal_eval.extra_keys import GPU
from pytest_causal_eval.measure.load import foreign_share
from pytest_causal_eval.profiling.stored import PROFILE_ENTRY_KEY, baseline_profile, restore_profile
from pytest_causal_eval.results import Measurement, Metric
from pytest_causal_eval.stats.compare import quantile_of
from pytest_causal_eval.stats.summary import pooled_log_sd, summarize

__all__ = [
    "MAX_SAMPLES",
    "MAX_SESSIONS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "BaselineFormatError",
    "SchemaTooNewError",
    "baseline_schema_path",
    "block_session",
    "carry_over_other_mode",
    "dumps_stable",
    "empty_document",
    "entry_from_measurement",
    "entry_problem",
    "even_subsample",
    "gpu_identity",
    "measured_entry",
    "merge_sessions",
    "migrate",
    "saved_under_load",
    "session_floor",
    "session_p10",
    "session_record",
    "session_share",
    "validate",
]

SCHEMA_VERSION = 1
MAX_SAMPLES = 200
MAX_SESSIONS = 20


class BaselineFormatError(ValueError):
    """A baseline document that cannot be used; the message names the problem (the caller the file)."""


class SchemaTooNewError(BaselineFormatError):
    """A document of a newer schema: readable by a newer plugin only, and never to be overwritten."""

    def __init__(self, version: int, writer: str) -> None:
        by = f"written by pytest-causal-eval {writer}" if writer else "written by a newer pytest-causal-eval"
        super().__init__(
            f"schema_version {version} ({by}) is newer than this pytest-causal-eval understands "
            f"({SCHEMA_VERSION}); upgrade pytest-causal-eval"
        )
        self.version = version
        self.writer = writer


def baseline_schema_path() -> Path:
    """The JSON Schema of the current baseline format (the checks here implement it)."""
    return Path(__file__).resolve().parent.parent / "schema" / f"baseline-v{SCHEMA_VERSION}.json"


def even_subsample(values: Sequence[float], limit: int = MAX_SAMPLES) -> list[float]:
    """At most ``limit`` values taken at even steps (first value kept; deterministic; order kept)."""
    if len(values) <= limit:
        return list(values)
    step = len(values) / limit
    return [values[int(i * step)] for i in range(limit)]


def _round6(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.6g}")


def entry_from_measurement(
    m: Measurement, now: str, tool_version: str, max_samples: int = MAX_SAMPLES
) -> dict[str, Any]:
    """The stored form of one passing measurement (samples bounded by ``max_samples``)."""
    time_block: dict[str, Any] | None = None
    if m.samples:
        stats = summarize(m.samples)
        time_block = {
            "unit": "s",
            "iterations": m.iterations,
            "rounds": len(m.samples),
            "summary": {k: _round6(float(v)) for k, v in stats.to_dict().items()},
            "samples": [_round6(v) for v in even_subsample(m.samples, max_samples)],
        }
    metrics: dict[str, Any] = {}
    for name, metric in sorted(m.metrics.items()):
        metrics[name] = {
            "value": _round6(metric.value),
            "unit": metric.unit,
            "better": metric.better,
            "samples": (
                [_round6(v) for v in even_subsample(metric.samples, max_samples)] if metric.samples else None
            ),
        }
    noise = m.extra.get("noise")
    gpu = gpu_identity(GPU.get(m))
    entry: dict[str, Any] = {
        "id": m.id,
        "test_id": m.test_id,
        "name": m.name,
        "params": dict(m.params),
        "first_seen": now,
        "last_seen": now,
        "tool_version": tool_version,
        "time": time_block,
        "metrics": metrics,
        "noise": {k: _round6(float(v)) for k, v in noise.items()} if isinstance(noise, Mapping) else {},
    }
    if gpu:
        entry["gpu"] = gpu
    profile = baseline_profile(m.extra)
    if profile:
        entry[PROFILE_ENTRY_KEY] = profile
    return entry


def measured_entry(m: Measurement) -> dict[str, Any]:
    """A measurement as the entry another is judged against (``causal-eval compare`` and ``ab``): all
    its samples, and the foreign load of its timed rounds as its one session's (no code: nothing to
    center on, but a baseline measured under load says so, ``baseline.center``)."""
    entry = entry_from_measurement(m, "", "", max_samples=10**9)
    time_block = entry.get("time")
    if isinstance(time_block, dict):
        share = foreign_share(m.extra.get("load"))
        time_block["sessions"] = [block_session(time_block, "", "", share)]
    return entry


def measurement_from_entry(mid: str, entry: Mapping[str, Any]) -> Measurement:
    """A stored entry as a ``Measurement`` (the inverse of ``entry_from_measurement`` as far as it
    goes: for the explain hook and profile diffs)."""
    time_block = entry.get("time") or {}
    metrics = {}
    for name, data in (entry.get("metrics") or {}).items():
        metrics[name] = Metric(
            name=name,
            value=float(data["value"]),
            unit=str(data.get("unit", "")),
            better="higher" if data.get("better") == "higher" else "lower",
            samples=[float(v) for v in data["samples"]] if data.get("samples") else None,
        )
    return Measurement(
        id=mid,
        test_id=str(entry.get("test_id", mid)),
        name=str(entry.get("name", "")),
        params={str(k): str(v) for k, v in (entry.get("params") or {}).items()},
        samples=[float(v) for v in time_block.get("samples") or []],
        iterations=int(time_block.get("iterations") or 0),
        metrics=metrics,
        extra={"baseline": True, "noise": dict(entry.get("noise") or {}), **restore_profile(entry)},
    )


def carry_over_other_mode(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """Keep what the saving run's mode did not measure: one entry holds both modes' figures.

    A run in instruction mode (its entry has a count metric) measures no time, memory or I/O; a run
    in time mode counts no instructions. The stored entry's figures of the other mode are kept, so
    saving in one mode never erases the other's baseline.
    """
    from pytest_causal_eval.stats.counts import COUNT_METRICS

    if not isinstance(old, Mapping):
        return new
    metrics = dict(new.get("metrics") or {})
    counted = any(name in COUNT_METRICS for name in metrics)
    for name, value in (old.get("metrics") or {}).items():
        if name not in metrics and (name in COUNT_METRICS) != counted:
            metrics[name] = value
    new["metrics"] = metrics
    if counted and new.get("time") is None:
        for key in ("time", "noise", "gpu", PROFILE_ENTRY_KEY):
            if old.get(key) and not new.get(key):
                new[key] = old[key]
    return new


def session_record(
    median: float, code: str, at: str, foreign_share: float | None = None, p10: float | None = None
) -> dict[str, Any]:
    """One saving session of a measurement: its median time, the code it measured and, when it was
    read, the share of the CPUs other processes took during its timed rounds; ``p10``, the quantile
    of its stored rounds the time gate compares (``stats.compare.TIME_QUANTILE``), when known."""
    record: dict[str, Any] = {"median": _round6(median), "code": code, "at": at}
    if p10 is not None:
        record["p10"] = _round6(p10)
    if foreign_share is not None:
        record["foreign_share"] = round(float(foreign_share), 4)
    return record


def block_session(time_block: Mapping[str, Any], code: str, at: str, share: float | None) -> dict[str, Any]:
    """The session record of a freshly built ``time`` block: its median, and the p10 of its stored
    rounds (what ``baseline.center`` compares the stored rounds against)."""
    samples = time_block.get("samples") or []
    p10 = quantile_of(samples) if len(samples) >= 3 else None
    return session_record(time_block["summary"]["median"], code, at, share, p10)


def session_p10(session: Any) -> float | None:
    """The p10 a saving session recorded, None when it recorded none (older files) or a bad one."""
    value = session.get("p10") if isinstance(session, Mapping) else None
    if value is None or numbers.check(value, "time") is not None:
        return None
    return float(value)


def session_share(session: Any) -> float | None:
    """The foreign share a saving session recorded, None when it recorded none (or not a share)."""
    value = session.get("foreign_share") if isinstance(session, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        return None
    return float(value)


def saved_under_load(session: Any, limit: float | None) -> bool:
    """True when a saving session recorded a foreign share at or above ``limit`` (never when the
    limit is off or the share was not recorded)."""
    share = session_share(session)
    return limit is not None and share is not None and share >= limit


def merge_sessions(old: Any, new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The old entry's sessions, then the new ones, the last ``MAX_SESSIONS`` kept."""
    kept = [dict(s) for s in old if _is_session(s)] if isinstance(old, list) else []
    kept.extend(dict(s) for s in new if _is_session(s))
    return kept[-MAX_SESSIONS:]


def _is_session(value: Any) -> bool:
    median = value.get("median") if isinstance(value, Mapping) else None
    return numbers.check(median, "time") is None


def session_floor(sessions: Any, limit: float | None = None) -> tuple[float, int, int] | None:
    """The spread two saving sessions of the same code show, as the gate's floor (the standard
    deviation of the log ratio of two sessions: the pooled within-code standard deviation of the
    log medians, times sqrt 2), with its degrees of freedom and the sessions used; None with fewer
    than 2 degrees of freedom (no code measured in two sessions, or one code twice only). Sessions
    saved under foreign load at or above ``limit`` are left out: their drift is the neighbours'."""
    chosen: dict[str, list[Mapping[str, Any]]] = {}
    for s in sessions if isinstance(sessions, list) else []:
        if _is_session(s) and s.get("code") and not saved_under_load(s, limit):
            chosen.setdefault(str(s["code"]), []).append(s)
    # each code's sessions by the statistic the gate compares when all of them recorded it
    groups = {code: _session_values(group) for code, group in chosen.items()}
    spread, df = pooled_log_sd(groups.values())
    if df < 2:
        return None
    used = sum(len(medians) for medians in groups.values() if len(medians) >= 2)
    return spread * math.sqrt(2.0), df, used


def _session_values(group: Sequence[Mapping[str, Any]]) -> list[float]:
    """The sessions' p10s when every one recorded it, else their medians."""
    p10s = [session_p10(s) for s in group]
    if all(v is not None for v in p10s):
        return [float(v) for v in p10s if v is not None]
    return [float(s["median"]) for s in group]


def gpu_identity(gpu: Any) -> dict[str, Any]:
    """The hard-key part of a measurement's ``extra['gpu']``: device name, CUDA and cuDNN versions."""
    if not isinstance(gpu, Mapping) or not gpu.get("name"):
        return {}
    return {k: gpu.get(k) for k in ("name", "cuda", "cudnn") if gpu.get(k) is not None}


def empty_document(machine: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "pytest-causal-eval",
        "machine": dict(machine),
        "measurements": {},
    }


def writer_version(doc: Mapping[str, Any]) -> str:
    """The plugin version that wrote a document: its ``tool_version``, else the newest entry's."""
    top = doc.get("tool_version")
    if isinstance(top, str) and top:
        return top
    entries = doc.get("measurements")
    found = {
        str(e["tool_version"])
        for e in (entries.values() if isinstance(entries, Mapping) else [])
        if isinstance(e, Mapping) and isinstance(e.get("tool_version"), str) and e["tool_version"]
    }
    return ", ".join(sorted(found))


def _migrate_v0(doc: dict[str, Any]) -> dict[str, Any]:
    benchmarks = doc.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise BaselineFormatError("version 0 layout: 'benchmarks' must be a list")
    measurements: dict[str, Any] = {}
    for i, bench in enumerate(benchmarks):
        if not isinstance(bench, Mapping) or not isinstance(bench.get("fullname"), str):
            raise BaselineFormatError(f"version 0 layout: benchmarks[{i}] lacks a 'fullname'")
        mid = bench["fullname"]
        try:
            measurements[mid] = _v0_entry(doc, bench)
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise BaselineFormatError(f"version 0 layout: benchmarks[{i}] ({mid!r}): {exc}") from None
    key = str(doc.get("machine_key") or "")
    return {
        "schema_version": 1,
        "tool": "pytest-causal-eval",
        "machine": {"key": key, "hard": {}, "soft": {}},
        "measurements": measurements,
    }


def _v0_entry(doc: Mapping[str, Any], bench: Mapping[str, Any]) -> dict[str, Any]:
    mid = bench["fullname"]
    stats = bench.get("stats") or {}
    data = [float(v) for v in bench.get("data") or []]
    time_block: dict[str, Any] | None = None
    if data:
        summary = summarize(data).to_dict()
        time_block = {"unit": "s", "iterations": int(stats.get("iterations", 1)), "rounds": len(data)}
        time_block["summary"] = summary
        time_block["samples"] = even_subsample(data)
    elif "median" in stats:
        time_block = {
            "unit": "s",
            "iterations": int(stats.get("iterations", 1)),
            "rounds": int(stats.get("rounds", 0)),
            "summary": {
                k: v for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            },
            "samples": [],
        }
        time_block["summary"]["median"] = stats["median"]  # a bad median is named when the entry is checked
    metrics = {
        str(k): {"value": v, "unit": "", "better": "lower", "samples": None}
        for k, v in (bench.get("metrics") or {}).items()
    }
    saved = str(bench.get("saved") or doc.get("saved") or "")
    return {
        "id": mid,
        "test_id": str(bench.get("test_id") or mid),
        "name": str(bench.get("name") or ""),
        "params": {},
        "first_seen": saved,
        "last_seen": saved,
        "tool_version": "",
        "time": time_block,
        "metrics": metrics,
        "noise": {},
    }


# from-version -> function producing the next version's document
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_v0}


def _version_of(doc: Mapping[str, Any]) -> int:
    if "schema_version" in doc:
        version = doc["schema_version"]
    elif "version" in doc and "benchmarks" in doc:
        version = doc["version"]
    else:
        raise BaselineFormatError("no 'schema_version' field: not a pytest-causal-eval baseline")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BaselineFormatError(f"schema_version must be an integer, got {version!r}")
    return version


def migrate(doc: Any) -> dict[str, Any]:
    """Bring a parsed document to the current version, then validate it."""
    if not isinstance(doc, dict):
        raise BaselineFormatError(f"expected a JSON object at the top level, got {type(doc).__name__}")
    current: dict[str, Any] = doc
    version = _version_of(current)
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(version, writer_version(current))
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise BaselineFormatError(f"unknown schema_version {version} (no migration from it)")
        current = step(current)
        version = _version_of(current)
    validate(current)
    return current


def validate(doc: Mapping[str, Any]) -> None:
    """Check the current-version structure; raise BaselineFormatError naming the first problem.
    Entries are checked one by one with ``entry_problem`` (a bad entry does not spoil the file)."""
    machine = doc.get("machine")
    if not isinstance(machine, Mapping):
        raise BaselineFormatError("'machine' must be an object")
    for part in ("hard", "soft"):
        if machine.get(part) is not None and not isinstance(machine[part], Mapping):
            raise BaselineFormatError(f"'machine.{part}' must be an object")
    measurements = doc.get("measurements")
    if not isinstance(measurements, Mapping):
        raise BaselineFormatError("'measurements' must be an object")


def _objects(entry: Mapping[str, Any]) -> str | None:
    for name in ("params", "noise", "gpu", "metrics"):
        value = entry.get(name)
        if value is not None and not isinstance(value, Mapping):
            return numbers.problem(name, value, "an object")
    return None


def entry_problem(entry: Any) -> str | None:
    """The first problem of one stored entry, naming the field (``time.summary.median is 'fast':
    expected a positive number of seconds ...``); None when the gate can use every number in it."""
    if not isinstance(entry, Mapping):
        return f"the entry is {numbers.shown(entry)}: expected an object"
    shape = _objects(entry)
    if shape is not None:
        return shape
    checks: list[tuple[str, Any, numbers.Kind]] = []
    time_block = entry.get("time")
    if time_block is not None:
        if not isinstance(time_block, Mapping):
            return numbers.problem("time", time_block, "an object or null")
        summary = time_block.get("summary")
        if not isinstance(summary, Mapping):
            return numbers.problem("time.summary", summary, "an object with the median")
        if "median" not in summary:
            return "time.summary.median is missing: expected a positive number of seconds"
        kinds: dict[str, numbers.Kind] = {"median": "time", "iqr": "time_or_zero"}
        checks.extend((f"time.summary.{k}", v, kinds.get(k, "value")) for k, v in summary.items())
        for key in ("rounds", "iterations"):
            if key in time_block:
                checks.append((f"time.{key}", time_block[key], "count"))
        for key in ("samples", "sessions"):
            if time_block.get(key) is not None and not isinstance(time_block[key], list):
                return numbers.problem(f"time.{key}", time_block[key], "a list")
        checks.extend(
            (f"time.samples[{i}]", v, "time") for i, v in enumerate(time_block.get("samples") or [])
        )
        for i, session in enumerate(time_block.get("sessions") or []):
            if not isinstance(session, Mapping):
                return numbers.problem(f"time.sessions[{i}]", session, "an object")
            checks.append((f"time.sessions[{i}].median", session.get("median"), "time"))
            if "p10" in session:
                checks.append((f"time.sessions[{i}].p10", session.get("p10"), "time"))
            if "foreign_share" in session and session_share(session) is None:
                return numbers.problem(
                    f"time.sessions[{i}].foreign_share", session["foreign_share"], "a share from 0 to 1"
                )
    for name, metric in (entry.get("metrics") or {}).items():
        if not isinstance(metric, Mapping):
            return numbers.problem(f"metrics.{name}", metric, "an object with a value")
        if metric.get("better", "lower") not in ("lower", "higher"):
            return numbers.problem(f"metrics.{name}.better", metric.get("better"), "'lower' or 'higher'")
        checks.append((f"metrics.{name}.value", metric.get("value"), "value"))
        samples = metric.get("samples")
        if samples is not None and not isinstance(samples, list):
            return numbers.problem(f"metrics.{name}.samples", samples, "a list or null")
        checks.extend((f"metrics.{name}.samples[{i}]", v, "value") for i, v in enumerate(samples or []))
    for where, value, kind in checks:
        expected = numbers.check(value, kind)
        if expected is not None:
            return numbers.problem(where, value, expected)
    return None


def dumps_stable(doc: Mapping[str, Any]) -> str:
    """Sorted keys, two-space indent, one measurement per block, number lists on one line."""
    return _dump(doc, 0) + "\n"


def _dump(value: Any, level: int) -> str:
    pad = "  " * (level + 1)
    end = "  " * level
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {_dump(value[k], level + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
        items = [pad + _dump(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return json.dumps(value, ensure_ascii=False, default=str)
