"""The baseline document: schema version, migrations from older layouts, entries, stable text.

Version 1 (current)::

    {
      "schema_version": 1,
      "tool": "pytest-causal-eval",
      "machine": {"key": "...", "hard": {...}, "soft": {...}},
      "measurements": {
        "<measurement id>": {
          "id", "test_id", "name", "params", "first_seen", "last_seen", "tool_version",
          "time": {"unit": "s", "iterations", "rounds", "summary": {...}, "samples": [...],
                   "sessions": [{"median", "code", "at"}, ...]} | null,
          "metrics": {"<name>": {"value", "unit", "better", "samples": [...] | null}},
          "noise": {"cv", "mdc", ...}
        }
      }
    }

Version 0 (a plausible older layout, pytest-benchmark-like) is migrated on load::

    {"version": 0, "machine_key": "...", "benchmarks": [
        {"fullname": "<id>", "stats": {"median", "iqr", "rounds", ...}, "data": [...],
         "metrics": {"<name>": <value>}, "saved": "<iso date>"}]}

Samples are bounded (``MAX_SAMPLES`` per quantity, evenly subsampled, deterministic) and rounded to
six significant digits so that re-saving the same numbers does not churn the file.

``time.sessions`` survives a save, as ``first_seen`` does (``store.save_entries``): the median time of each
saving session (the last ``MAX_SESSIONS``), with the code it measured (``code``: a digest of the
committed files apart from the baselines, see ``gatekeeper.code_identity``; empty for a dirty or
unknown tree) and when. Sessions that measured the *same* code tell how far two
sessions on the same code drift apart; ``session_floor`` turns them into the gate's
between-process allowance when that drift is larger than the default (see ``baseline.gate``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_causal_eval.profiling.stored import PROFILE_ENTRY_KEY, baseline_profile
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.stats.summary import pooled_log_sd, summarize

__all__ = [
    "MAX_SAMPLES",
    "MAX_SESSIONS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "BaselineFormatError",
    "dumps_stable",
    "empty_document",
    "entry_from_measurement",
    "even_subsample",
    "gpu_identity",
    "merge_sessions",
    "migrate",
    "session_floor",
    "session_record",
    "validate",
]

SCHEMA_VERSION = 1
MAX_SAMPLES = 200
MAX_SESSIONS = 20


class BaselineFormatError(ValueError):
    """A baseline document that cannot be used; the message names the problem (the caller the file)."""


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
    gpu = gpu_identity(m.extra.get("gpu"))
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


def session_record(median: float, code: str, at: str) -> dict[str, Any]:
    """One saving session of a measurement: its median time and the code it measured."""
    return {"median": _round6(median), "code": code, "at": at}


def merge_sessions(old: Any, new: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The old entry's sessions, then the new ones, the last ``MAX_SESSIONS`` kept."""
    kept = [dict(s) for s in old if _is_session(s)] if isinstance(old, list) else []
    kept.extend(dict(s) for s in new if _is_session(s))
    return kept[-MAX_SESSIONS:]


def _is_session(value: Any) -> bool:
    median = value.get("median") if isinstance(value, Mapping) else None
    return isinstance(median, (int, float)) and median > 0


def session_floor(sessions: Any) -> tuple[float, int, int] | None:
    """The spread two saving sessions of the same code show, as the gate's floor (the standard
    deviation of the log ratio of two sessions: the pooled within-code standard deviation of the
    log medians, times sqrt 2), with its degrees of freedom and the sessions used; None with fewer
    than 2 degrees of freedom (no code measured in two sessions, or one code twice only)."""
    groups: dict[str, list[float]] = {}
    for s in sessions if isinstance(sessions, list) else []:
        if _is_session(s) and s.get("code"):
            groups.setdefault(str(s["code"]), []).append(float(s["median"]))
    spread, df = pooled_log_sd(groups.values())
    if df < 2:
        return None
    used = sum(len(medians) for medians in groups.values() if len(medians) >= 2)
    return spread * math.sqrt(2.0), df, used


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


def _migrate_v0(doc: dict[str, Any]) -> dict[str, Any]:
    benchmarks = doc.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise BaselineFormatError("version 0 layout: 'benchmarks' must be a list")
    measurements: dict[str, Any] = {}
    for i, bench in enumerate(benchmarks):
        if not isinstance(bench, Mapping) or not isinstance(bench.get("fullname"), str):
            raise BaselineFormatError(f"version 0 layout: benchmarks[{i}] lacks a 'fullname'")
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
                "summary": {k: float(v) for k, v in stats.items() if isinstance(v, (int, float))},
                "samples": [],
            }
        metrics = {
            str(k): {"value": float(v), "unit": "", "better": "lower", "samples": None}
            for k, v in (bench.get("metrics") or {}).items()
        }
        saved = str(bench.get("saved") or doc.get("saved") or "")
        measurements[mid] = {
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
    key = str(doc.get("machine_key") or "")
    return {
        "schema_version": 1,
        "tool": "pytest-causal-eval",
        "machine": {"key": key, "hard": {}, "soft": {}},
        "measurements": measurements,
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
        raise BaselineFormatError(
            f"schema_version {version} is newer than this pytest-causal-eval understands "
            f"({SCHEMA_VERSION}); upgrade pytest-causal-eval"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise BaselineFormatError(f"unknown schema_version {version} (no migration from it)")
        current = step(current)
        version = _version_of(current)
    validate(current)
    return current


def validate(doc: Mapping[str, Any]) -> None:
    """Check the current-version structure; raise BaselineFormatError naming the first problem."""
    machine = doc.get("machine")
    if not isinstance(machine, Mapping):
        raise BaselineFormatError("'machine' must be an object")
    measurements = doc.get("measurements")
    if not isinstance(measurements, Mapping):
        raise BaselineFormatError("'measurements' must be an object")
    for mid, entry in measurements.items():
        if not isinstance(entry, Mapping):
            raise BaselineFormatError(f"measurement {mid!r} must be an object")
        time_block = entry.get("time")
        if time_block is not None:
            if not isinstance(time_block, Mapping) or not isinstance(time_block.get("summary"), Mapping):
                raise BaselineFormatError(f"measurement {mid!r}: 'time' needs a 'summary' object")
            if "median" not in time_block["summary"]:
                raise BaselineFormatError(f"measurement {mid!r}: time summary lacks 'median'")
            if not all(isinstance(v, (int, float)) for v in time_block.get("samples") or []):
                raise BaselineFormatError(f"measurement {mid!r}: time samples must be numbers")
        metrics = entry.get("metrics") or {}
        if not isinstance(metrics, Mapping):
            raise BaselineFormatError(f"measurement {mid!r}: 'metrics' must be an object")
        for name, metric in metrics.items():
            if not isinstance(metric, Mapping) or not isinstance(metric.get("value"), (int, float)):
                raise BaselineFormatError(f"measurement {mid!r}: metric {name!r} needs a numeric 'value'")
            if metric.get("better", "lower") not in ("lower", "higher"):
                raise BaselineFormatError(
                    f"measurement {mid!r}: metric {name!r}: better must be lower|higher"
                )


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
