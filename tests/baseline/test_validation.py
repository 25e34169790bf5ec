"""One validation for every number read back: baseline entries, results files, pytest-benchmark imports.

The hand-written checks (the product validates without ``jsonschema``) must agree with the JSON
Schemas the package ships, and a bad number must never reach the statistics: no verdict from it,
no OverflowError anywhere.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_causal_eval import numbers
from pytest_causal_eval.baseline.gate import GateConfig, judge
from pytest_causal_eval.baseline.schema import (
    baseline_schema_path,
    dumps_stable,
    empty_document,
    entry_from_measurement,
    entry_problem,
)
from pytest_causal_eval.baseline.store import BaselineStore, read_baseline
from pytest_causal_eval.results import (
    Measurement,
    Metric,
    RunResults,
    measurement_problem,
    results_schema_path,
)

MACHINE = {"key": "k", "hard": {"os": "linux"}, "soft": {}}


def measurement(mid: str = "t.py::a", scale: float = 1.0) -> Measurement:
    m = Measurement(id=mid, test_id=mid, samples=[scale * (1e-3 + 1e-6 * (i % 7)) for i in range(50)])
    m.add_metric(Metric("accuracy", 0.8, better="higher", samples=[0.8, 0.79, 0.81]))
    m.add_metric(Metric("rss_growth", 5e6, unit="B"))
    return m


def good_entry() -> dict[str, Any]:
    entry = entry_from_measurement(measurement(), "2026-01-01T00:00:00+00:00", "0.1.0")
    entry["time"]["sessions"] = [{"median": 1e-3, "code": "tree:x", "at": "2026-01-01"}]
    return entry


def baseline_document(entry: dict[str, Any]) -> dict[str, Any]:
    doc = empty_document(MACHINE)
    doc["measurements"] = {"t.py::a": entry}
    return doc


def results_document(m: dict[str, Any]) -> dict[str, Any]:
    doc = RunResults(measurements=[], created="now", tool_version="0.1.0").to_dict()
    doc["measurements"] = [m]
    return doc


def setter(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``value`` at a dotted path (``time.samples.3``) of a document."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def field_name(path: str) -> str:
    """How a message names a dotted path: ``time.samples.3`` -> ``time.samples[3]``."""
    out = ""
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


# every bad value the issue met, and a few more, in every number field the gate reads
BAD_TIMES = [0.0, -1e-3, True, "fast", None, 1e-320, 1e400, float("nan"), [1e-3], 1e8]
BAD_VALUES = [True, "0.8", None, 1e-320, 1e400, float("-inf"), -1e200, {"v": 1}]

ENTRY_CASES = [
    *[("time.summary.median", v) for v in BAD_TIMES],
    *[("time.samples.3", v) for v in BAD_TIMES],
    ("time.summary.iqr", -1e-5),
    ("time.rounds", True),
    ("time.rounds", 2.5),
    ("time.sessions.0.median", True),
    *[("metrics.accuracy.value", v) for v in BAD_VALUES],
    ("metrics.accuracy.samples.1", 1e400),
    ("metrics.accuracy.better", "up"),
    ("params", [1, 2]),
]


def _json_or_none(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The document as strict JSON would carry it (1e400 for infinity); None with a NaN (not JSON)."""
    text = json.dumps(doc)
    if "NaN" in text:
        return None
    loaded: dict[str, Any] = json.loads(text.replace("-Infinity", "-1e400").replace("Infinity", "1e400"))
    return loaded


@pytest.mark.parametrize(("path", "value"), ENTRY_CASES, ids=[f"{p}={v!r}" for p, v in ENTRY_CASES])
def test_a_bad_baseline_entry_is_named_by_the_checks_and_the_schema(path: str, value: Any) -> None:
    entry = good_entry()
    setter(path, value)(entry)
    problem = entry_problem(entry)
    assert problem is not None and problem.startswith(f"{field_name(path)} is "), problem
    doc = _json_or_none(baseline_document(entry))
    if doc is not None:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, json.loads(baseline_schema_path().read_text()))


@pytest.mark.parametrize(
    "mutate",
    [
        setter("time.summary.median", 1e-12),
        setter("time.summary.iqr", 0),
        setter("time.rounds", 5.0),
        setter("metrics.accuracy.value", 0),
        setter("metrics.rss_growth.value", -4096.0),
        setter("metrics.accuracy.samples", None),
        setter("time", None),
    ],
)
def test_good_edge_values_pass_both(mutate: Callable[[dict[str, Any]], None]) -> None:
    entry = good_entry()
    mutate(entry)
    assert entry_problem(entry) is None
    jsonschema.validate(baseline_document(entry), json.loads(baseline_schema_path().read_text()))


def test_a_fresh_entry_and_a_fresh_results_file_pass_both() -> None:
    entry = good_entry()
    assert entry_problem(entry) is None
    jsonschema.validate(baseline_document(entry), json.loads(baseline_schema_path().read_text()))
    data = results_document(measurement().to_dict())
    assert measurement_problem(data["measurements"][0]) is None
    jsonschema.validate(data, json.loads(results_schema_path().read_text()))


RESULTS_CASES = [
    *[("samples.3", v) for v in BAD_TIMES],
    ("cpu_samples.0", -1.0),
    ("iterations", True),
    ("items", 0),
    ("duration", 1e400),
    *[("metrics.accuracy.value", v) for v in BAD_VALUES],
    ("metrics.accuracy.samples.0", float("nan")),
]


@pytest.mark.parametrize(("path", "value"), RESULTS_CASES, ids=[f"{p}={v!r}" for p, v in RESULTS_CASES])
def test_a_bad_results_measurement_is_quarantined_and_fails_the_schema(path: str, value: Any) -> None:
    m = measurement()
    m.cpu_samples = [5e-4] * 50
    good = m.to_dict()
    bad = copy.deepcopy(good)
    bad["id"] = "t.py::bad"
    setter(path, value)(bad)
    doc = results_document(good)
    doc["measurements"].append(bad)
    loaded = RunResults.from_dict(json.loads(json.dumps(doc)))
    assert [x.id for x in loaded.measurements] == ["t.py::a"]  # the rest of the file is still usable
    assert set(loaded.quarantined) == {"t.py::bad"}
    assert loaded.quarantined["t.py::bad"].startswith(f"{field_name(path)} is "), loaded.quarantined
    strict = _json_or_none(doc)
    if strict is not None:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(strict, json.loads(results_schema_path().read_text()))


def test_duplicate_ids_in_one_results_file_are_refused() -> None:
    from pytest_causal_eval.results import ResultsFormatError

    doc = results_document(measurement().to_dict())
    doc["measurements"].append(measurement().to_dict())
    with pytest.raises(ResultsFormatError, match=r"measurement id 't\.py::a' appears more than once"):
        RunResults.from_dict(doc)


@pytest.mark.parametrize("bad", [1e-320, 1e400, float("nan"), True])
def test_absurd_magnitudes_are_quarantined_in_a_baseline_file_never_judged(tmp_path: Path, bad: Any) -> None:
    entry = good_entry()
    entry["time"]["samples"] = [bad] * 50
    other = good_entry()
    path = tmp_path / "k.json"
    doc = baseline_document(entry)
    doc["measurements"]["t.py::b"] = other
    path.write_text(dumps_stable(doc))
    loaded = read_baseline(path)
    assert list(loaded.measurements) == ["t.py::b"]
    assert loaded.quarantined["t.py::a"].startswith("time.samples[0] is ")
    # the rest of the file still gates
    assert judge(measurement("t.py::b", scale=1.3), loaded.measurements["t.py::b"], GateConfig())[
        0
    ].verdict == ("regressed")


@pytest.mark.parametrize("tiny", [1e-320, 5e-324])
def test_the_statistics_never_overflow_on_a_ratio_beyond_a_float(tiny: float) -> None:
    from pytest_causal_eval.stats.compare import Side, Threshold, compare

    c = compare(
        Side.of_samples([tiny] * 5),
        Side.of_samples([1e-3] * 5),
        metric="time",
        better="lower",
        threshold=Threshold("relative", 0.1),
    )
    assert c.verdict == "regressed" and c.change == float("inf")


def test_metrics_refuse_what_a_baseline_would_quarantine() -> None:
    with pytest.raises(ValueError, match="metric 'x': value must be a finite number"):
        Metric("x", 1e-320)
    with pytest.raises(ValueError, match=r"metric 'x': samples\[1\] must be"):
        Metric("x", 1.0, samples=[1.0, float("nan")])


def test_the_numbers_module_states_the_schema_bounds() -> None:
    schema = json.loads(baseline_schema_path().read_text())["$defs"]
    assert (
        schema["seconds"]["minimum"] == numbers.TIME_MIN and schema["seconds"]["maximum"] == numbers.TIME_MAX
    )
    assert schema["value"]["anyOf"][1] == {"minimum": numbers.VALUE_MIN, "maximum": numbers.VALUE_MAX}
    results = json.loads(results_schema_path().read_text())["$defs"]
    assert results["seconds"] == schema["seconds"] and results["value"] == schema["value"]


def test_a_quarantined_entry_survives_a_save_that_did_not_measure_it(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    entry = good_entry()
    entry["time"]["summary"]["median"] = "fast"
    entry["time"]["samples"] = []
    doc = baseline_document(entry)
    store.path_for("k").write_text(dumps_stable(doc))
    outcome = store.save_entries(
        "k", MACHINE, {"t.py::b": entry_from_measurement(measurement("t.py::b"), "t", "v")}
    )
    assert outcome.quarantined == {"t.py::a": entry_problem(entry)}
    kept = json.loads(store.path_for("k").read_text())["measurements"]
    assert kept["t.py::a"]["time"]["summary"]["median"] == "fast"  # not dropped, not "fixed"
    # a save that measured it replaces it whole
    outcome = store.save_entries("k", MACHINE, {"t.py::a": entry_from_measurement(measurement(), "t", "v")})
    assert outcome.quarantined == {}
    loaded = store.load("k")
    assert loaded is not None and sorted(loaded.measurements) == ["t.py::a", "t.py::b"]
