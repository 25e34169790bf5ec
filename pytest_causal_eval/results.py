"""The result model: one ``Measurement`` per named measurement, gathered into ``RunResults``.

The JSON form is versioned by ``schema_version``; ``pytest_causal_eval/schema/results-v1.json``
is its JSON Schema. Loading checks the version, the structure and every number the gate reads
(``measurement_problem``, the same bounds as the schema, see ``numbers``): a file whose structure
is wrong raises ``ResultsFormatError`` naming what is wrong; a measurement with a bad number (a
``NaN``, ``true`` or negative time, ``1e400``) is *quarantined*: left out of ``measurements`` and
listed in ``quarantined`` with the field, so the rest of the file can still be used and the caller
says what was left out. ``read_results`` reads a file (any byte content) into either.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_causal_eval import numbers
from pytest_causal_eval.stats.summary import Summary, summarize

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "Better",
    "Measurement",
    "Metric",
    "ResultsFormatError",
    "RunResults",
    "Verdict",
    "measurement_problem",
    "read_results",
    "results_schema_path",
]

RESULTS_SCHEMA_VERSION = 1

Better = Literal["lower", "higher"]
BETTER_VALUES: tuple[Better, ...] = ("lower", "higher")


class ResultsFormatError(ValueError):
    """A results document that does not follow the schema."""


@dataclass
class Metric:
    """One named quantity with a direction. ``samples`` holds per-round values when there are several."""

    name: str
    value: float
    unit: str = ""
    better: Better = "lower"
    samples: list[float] | None = None

    def __post_init__(self) -> None:
        if self.better not in BETTER_VALUES:
            raise ValueError(f"metric {self.name!r}: better must be 'lower' or 'higher', got {self.better!r}")
        if not isinstance(self.value, (int, float)) or isinstance(self.value, bool):
            raise TypeError(f"metric {self.name!r}: value must be a number, got {type(self.value).__name__}")
        if not math.isfinite(float(self.value)):
            raise ValueError(f"metric {self.name!r}: value must be finite, got {self.value!r}")
        expected = numbers.check(self.value, "value")
        if expected is not None:
            raise ValueError(f"metric {self.name!r}: value must be {expected}, got {self.value!r}")
        for i, v in enumerate(self.samples or []):
            expected = numbers.check(v, "value")
            if expected is not None:
                raise ValueError(f"metric {self.name!r}: samples[{i}] must be {expected}, got {v!r}")
        self.value = float(self.value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "better": self.better,
        }
        if self.samples is not None:
            out["samples"] = list(self.samples)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        return cls(
            name=str(_req(data, "name", "metric")),
            value=float(_req(data, "value", "metric")),
            unit=str(data.get("unit", "")),
            better=_better(data.get("better", "lower")),
            samples=[float(v) for v in data["samples"]] if data.get("samples") is not None else None,
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class Verdict:
    """The gate's judgement of one measurement, stored as ``measurement.extra["verdict"]``.

    ``verdict`` is regressed, inconclusive, improved, pass or new; the numbers are those of the
    deciding comparison (``metric``), ``all`` holds every comparison made. The fields after
    ``baseline_median`` exist only when a comparison decided (``None``: left out of the dict).
    """

    verdict: str
    message: str = ""
    metric: str | None = None
    change: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    threshold: str | None = None
    baseline_median: float | None = None
    baseline: str | None = None  # the baseline's machine key or label
    candidate_median: float | None = None
    better: str | None = None
    unit: str | None = None
    method: str | None = None
    all: list[dict[str, Any]] | None = None
    reason: str | None = None  # why the verdict is not what the numbers alone say (a busy machine)
    baseline_note: str | None = None  # where the baseline's center came from (median of N saves)
    # the statistic baseline_median and candidate_median hold when it is not the median: "p10",
    # the fast quantile the time gate compares (the keys keep their names for older readers)
    statistic: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored form (the keys and their order as the results schema has them)."""
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "metric": self.metric,
            "change": self.change,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "threshold": self.threshold,
            "baseline_median": self.baseline_median,
        }
        optional = {"candidate_median": self.candidate_median, "better": self.better, "unit": self.unit}
        out.update({k: v for k, v in optional.items() if v is not None})
        out["message"] = self.message
        if self.method is not None:
            out["method"] = self.method
        if self.statistic is not None:
            out["statistic"] = self.statistic
        if self.reason is not None:
            out["reason"] = self.reason
        if self.baseline_note is not None:
            out["baseline_note"] = self.baseline_note
        out["baseline"] = self.baseline
        if self.all is not None:
            out["all"] = [dict(c) for c in self.all]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Verdict | None:
        """The record in ``data`` (a stored ``extra["verdict"]``); None when there is none."""
        if not isinstance(data, Mapping):
            return None
        comparisons = data.get("all")
        return cls(
            verdict=str(data.get("verdict") or ""),
            message=str(data.get("message") or ""),
            metric=_text(data.get("metric")),
            change=_number(data.get("change")),
            ci_low=_number(data.get("ci_low")),
            ci_high=_number(data.get("ci_high")),
            threshold=_text(data.get("threshold")),
            baseline_median=_number(data.get("baseline_median")),
            baseline=_text(data.get("baseline")),
            candidate_median=_number(data.get("candidate_median")),
            better=_text(data.get("better")),
            unit=_text(data.get("unit")),
            method=_text(data.get("method")),
            statistic=_text(data.get("statistic")),
            reason=_text(data.get("reason")),
            baseline_note=_text(data.get("baseline_note")),
            all=[dict(c) for c in comparisons if isinstance(c, Mapping)]
            if isinstance(comparisons, list)
            else None,
        )


@dataclass
class Measurement:
    """One measurement: raw per-round samples (seconds per iteration) and metrics.

    ``id`` is unique within a run: the test's node id, plus ``::name`` for a named measurement.
    A measurement may hold only custom metrics (``samples`` empty, ``stats`` None).
    """

    id: str
    test_id: str
    name: str = ""
    params: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    mode: str = "metrics"
    samples: list[float] = field(default_factory=list)
    cpu_samples: list[float] = field(default_factory=list)
    iterations: int = 0
    warmup_rounds: int = 0
    items: int | None = None
    calibration: dict[str, float] = field(default_factory=dict)
    gc: str = "enabled"
    metrics: dict[str, Metric] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    #: ``causal_bench.extra_info``: the test's own strings and numbers (a version, a size)
    extra_info: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return len(self.samples)

    @property
    def stats(self) -> Summary | None:
        return summarize(self.samples) if self.samples else None

    @property
    def cpu_stats(self) -> Summary | None:
        return summarize(self.cpu_samples) if self.cpu_samples else None

    def add_metric(self, metric: Metric) -> None:
        self.metrics[metric.name] = metric

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats
        cpu = self.cpu_stats
        return {
            "id": self.id,
            "test_id": self.test_id,
            "name": self.name,
            "params": dict(self.params),
            "group": self.group,
            "mode": self.mode,
            "unit": "s",
            "rounds": self.rounds,
            "iterations": self.iterations,
            "warmup_rounds": self.warmup_rounds,
            "items": self.items,
            "calibration": dict(self.calibration),
            "gc": self.gc,
            "stats": stats.to_dict() if stats else None,
            "cpu_stats": cpu.to_dict() if cpu else None,
            "samples": list(self.samples),
            "cpu_samples": list(self.cpu_samples),
            "metrics": {k: m.to_dict() for k, m in sorted(self.metrics.items())},
            "extra": dict(self.extra),
            "extra_info": dict(self.extra_info),
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        if not isinstance(data, Mapping):
            raise ResultsFormatError(f"a measurement must be an object, got {type(data).__name__}")
        mid = str(_req(data, "id", "measurement"))
        try:
            metrics_raw = data.get("metrics") or {}
            if not isinstance(metrics_raw, Mapping):
                raise ResultsFormatError(f"measurement {mid!r}: 'metrics' must be an object")
            return cls(
                id=mid,
                test_id=str(data.get("test_id", mid)),
                name=str(data.get("name", "")),
                params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
                group=data.get("group"),
                mode=str(data.get("mode", "metrics")),
                samples=[float(v) for v in data.get("samples") or []],
                cpu_samples=[float(v) for v in data.get("cpu_samples") or []],
                iterations=int(data.get("iterations", 0)),
                warmup_rounds=int(data.get("warmup_rounds", 0)),
                items=int(data["items"]) if data.get("items") is not None else None,
                calibration={str(k): float(v) for k, v in (data.get("calibration") or {}).items()},
                gc=str(data.get("gc", "enabled")),
                metrics={str(k): Metric.from_dict(v) for k, v in metrics_raw.items()},
                extra=dict(data.get("extra") or {}),
                duration=float(data.get("duration", 0.0)),
                extra_info=_extra_info(data.get("extra_info"), mid),
            )
        except ResultsFormatError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ResultsFormatError(f"measurement {mid!r}: {exc}") from None


def _extra_info(raw: Any, mid: str) -> dict[str, str | int | float | bool]:
    from pytest_causal_eval.extra_info import extra_info_problem

    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ResultsFormatError(f"measurement {mid!r}: 'extra_info' must be an object")
    for key, value in raw.items():
        problem = extra_info_problem(key, value)
        if problem is not None:
            raise ResultsFormatError(f"measurement {mid!r}: {problem}")
    return dict(raw)


@dataclass
class RunResults:
    """All measurements of one run plus the environment they were taken in.

    ``quarantined`` (loading only, never written): measurement id -> the bad field of a measurement
    left out of ``measurements`` (see ``measurement_problem``).
    """

    measurements: list[Measurement] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    tool_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    quarantined: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "tool": "pytest-causal-eval",
            "tool_version": self.tool_version,
            "created": self.created,
            "environment": dict(self.environment),
            "measurements": [m.to_dict() for m in sorted(self.measurements, key=lambda m: m.id)],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunResults:
        if not isinstance(data, Mapping):
            raise ResultsFormatError(f"a results document must be a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ResultsFormatError("missing or non-integer 'schema_version'")
        if version > RESULTS_SCHEMA_VERSION:
            writer = data.get("tool_version")
            by = (
                f"written by pytest-causal-eval {writer}" if isinstance(writer, str) and writer else "written"
            )
            raise ResultsFormatError(
                f"schema_version {version} ({by}) is newer than this pytest-causal-eval understands "
                f"({RESULTS_SCHEMA_VERSION}); upgrade pytest-causal-eval"
            )
        if version < 1:
            raise ResultsFormatError(f"unknown schema_version {version}")
        raw = data.get("measurements")
        if not isinstance(raw, list):
            raise ResultsFormatError("'measurements' must be a list")
        env = data.get("environment") or {}
        if not isinstance(env, Mapping):
            raise ResultsFormatError("'environment' must be an object")
        extra = data.get("extra") or {}
        if not isinstance(extra, Mapping):
            raise ResultsFormatError("'extra' must be an object")
        measurements: list[Measurement] = []
        quarantined: dict[str, str] = {}
        seen: set[str] = set()
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise ResultsFormatError(f"measurements[{i}] must be an object, got {type(item).__name__}")
            mid = _req(item, "id", f"measurements[{i}]")
            if not isinstance(mid, str) or not mid:
                raise ResultsFormatError(f"measurements[{i}]: 'id' must be a non-empty string, got {mid!r}")
            if mid in seen:
                raise ResultsFormatError(
                    f"measurement id {mid!r} appears more than once; ids are unique within a run"
                )
            seen.add(mid)
            bad = measurement_problem(item)
            if bad is not None:
                quarantined[mid] = bad
                continue
            measurements.append(Measurement.from_dict(item))
        return cls(
            measurements=measurements,
            environment=dict(env),
            created=str(data.get("created", "")),
            tool_version=str(data.get("tool_version", "")),
            extra=dict(extra),
            quarantined=quarantined,
        )


def measurement_problem(data: Mapping[str, Any]) -> str | None:
    """The first bad number of a stored measurement, naming the field; None when every number the
    gate, the reports or sharding read is good (times positive and finite, counts whole, metric
    values finite; no booleans). Structure (types of objects, ``better``) is checked by ``from_dict``."""
    checks: list[tuple[str, Any, numbers.Kind]] = []
    lists: tuple[tuple[str, numbers.Kind], ...] = (("samples", "time"), ("cpu_samples", "time_or_zero"))
    for name, kind in lists:
        values = data.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            return numbers.problem(name, values, f"a list of {numbers.EXPECTED[kind]}")
        checks.extend((f"{name}[{i}]", v, kind) for i, v in enumerate(values))
    scalars: tuple[tuple[str, numbers.Kind], ...] = (
        ("iterations", "count"),
        ("warmup_rounds", "count"),
        ("duration", "time_or_zero"),
    )
    for name, kind in scalars:
        if name in data:
            checks.append((name, data[name], kind))
    if data.get("items") is not None:
        checks.append(("items", data["items"], "positive_count"))
    calibration = data.get("calibration")
    if isinstance(calibration, Mapping):
        checks.extend((f"calibration.{k}", v, "value") for k, v in calibration.items())
    metrics = data.get("metrics")
    if isinstance(metrics, Mapping):
        for name, metric in metrics.items():
            if not isinstance(metric, Mapping):
                continue  # a structural problem: from_dict names it
            checks.append((f"metrics.{name}.value", metric.get("value"), "value"))
            samples = metric.get("samples")
            if samples is not None and not isinstance(samples, list):
                return numbers.problem(f"metrics.{name}.samples", samples, "a list of numbers or null")
            checks.extend((f"metrics.{name}.samples[{i}]", v, "value") for i, v in enumerate(samples or []))
    for where, value, kind in checks:
        expected = numbers.check(value, kind)
        if expected is not None:
            return numbers.problem(where, value, expected)
    return None


def read_results(path: Path) -> RunResults:
    """A results file (``--causal-eval-json``) from disk; ``ResultsFormatError`` naming the file and the
    problem for anything that is not one (unreadable, not UTF-8, not JSON, wrong structure)."""
    try:
        if stat.S_ISCHR(os.stat(path).st_mode):  # /dev/zero would be read forever
            raise ResultsFormatError(f"results file {path} is a device, not a file")
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsFormatError(
            f"results file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); expected a results file written by --causal-eval-json"
        ) from None
    except OSError as exc:
        raise ResultsFormatError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(
            f"results file {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
            "expected a results file written by --causal-eval-json"
        ) from None
    except RecursionError:
        raise ResultsFormatError(f"results file {path} is not a results file (nested too deeply)") from None
    try:
        return RunResults.from_dict(data)
    except ResultsFormatError as exc:
        raise ResultsFormatError(f"results file {path}: {exc}") from None


def results_schema_path() -> Path:
    """The JSON Schema of the current results format."""
    return Path(__file__).parent / "schema" / f"results-v{RESULTS_SCHEMA_VERSION}.json"


def _req(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise ResultsFormatError(f"{what} lacks required field {key!r}")
    return data[key]


def _better(value: Any) -> Better:
    if value == "lower":
        return "lower"
    if value == "higher":
        return "higher"
    raise ResultsFormatError(f"'better' must be 'lower' or 'higher', got {value!r}")
