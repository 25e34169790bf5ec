"""The keys of ``Measurement.extra`` that cross features: typed, and stored exactly as before."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import pytest_causal_eval
from pytest_causal_eval import extra_keys
from pytest_causal_eval.baseline.gate import GateConfig, build_verdict, judge, verdict_record
from pytest_causal_eval.baseline.schema import entry_from_measurement
from pytest_causal_eval.environment.health import quick_health
from pytest_causal_eval.extra_keys import ExtraKey
from pytest_causal_eval.measure.instructions import gc_state
from pytest_causal_eval.results import Measurement, Metric
from pytest_causal_eval.stats.noise import noise_profile


def _measurement(scale: float = 1.0) -> Measurement:
    m = Measurement(id="a", test_id="a", samples=[scale * (1e-3 + 1e-6 * (i % 7)) for i in range(200)])
    m.add_metric(Metric("accuracy", 0.8, unit="", better="higher"))
    return m


def _judged() -> dict[str, Any]:
    cand = _measurement(1.3)
    return verdict_record(
        cand, judge(cand, entry_from_measurement(_measurement(), "t", "v"), GateConfig()), "k"
    )


_SESSION_HEALTH = {
    "noisy": True,
    "busy_processes": [{"pid": 4242, "name": "miner", "cpu_percent": 97.0}],
    "reasons": ["busy processes: miner (pid 4242, 97% of one CPU)", "load average 3.00 on 2 CPU(s)"],
}

#: What each key's writer stored before it was typed (the writers' own functions where they exist,
#: else the literal shape they wrote), several shapes per key.
STORED: list[tuple[ExtraKey[Any], Any]] = [
    (extra_keys.VERDICT, _judged()),
    (extra_keys.VERDICT, verdict_record(_measurement(), [], None)),
    (extra_keys.VERDICT, verdict_record(_measurement(), [], "k", has_baseline=True)),
    (extra_keys.PASSED, True),
    (extra_keys.PASSED, False),
    (extra_keys.THRESHOLDS, {"default": "10%", "time": "5%", "accuracy": "0.02"}),
    (extra_keys.NOISE, noise_profile(_measurement().samples).to_dict()),
    (extra_keys.REMEASURED, 2),
    (extra_keys.REMEASURED_UNDER_LOAD, {"passes": 1, "foreign_shares": [0.48]}),
    (extra_keys.EXPLANATION, {"time": ["hotspots:", "  f  +40%"], "python_peak": ["sites:"]}),
    (extra_keys.HEALTH, quick_health(_SESSION_HEALTH, 3.0, cpus=2)),
    (extra_keys.HEALTH, quick_health(None, None, cpus=2)),
    (extra_keys.HEALTH, quick_health(_SESSION_HEALTH, 0.2, cpus=2, load={"foreign_share": 0.4, "cpus": 2})),
    (extra_keys.GPU, {"device": "NVIDIA A100", "cuda": "12.1", "cudnn": 8902, "settings": {"tf32": False}}),
    (extra_keys.MEMORY, {"backend": "memray", "peak": 1024, "sites": [{"file": "a.py", "line": 3}]}),
    (
        extra_keys.PROFILE_ARTIFACTS,
        {"cpu_html": "profiles/a.html", "memory_flamegraph": "profiles/a.mem.html"},
    ),
    (
        extra_keys.INSTRUCTIONS,
        {
            "calls": 1,
            "warmup_calls": 17,
            "per_call": {"Ir": 2301234.0, "I1mr": 12.0},
            "overhead": {"Ir": 412, "I1mr": 0},
            "cache_sim": True,
            "hash_seed": "0",
            "gc": gc_state(),
            "threads": "counted",
            "child_processes": "not counted",
            "dump": "/tmp/callgrind/test_a.py__test_loop.out",
            "dump_name": "test_a.py__test_loop.out",
        },
    ),
    (extra_keys.INSTRUCTIONS, {"calls": 2, "dump": "callgrind.out.1"}),
    (
        extra_keys.INSTRUCTION_PROFILE,
        {"dump": "/tmp/cg/callgrind.out.7.2", "calls": 1, "perf_map": "/tmp/cg/callgrind.out.7.2.perf.map"},
    ),
    (extra_keys.INSTRUCTION_PROFILE, {"dump": "/tmp/cg/callgrind.out.7.1", "calls": 3, "perf_map": None}),
    (
        extra_keys.INSTRUCTION_HOTSPOTS,
        [{"function": "f", "object": "python", "file": "a.py", "self_instructions": 10.0, "inclusive": 12.0}],
    ),
]


@pytest.mark.parametrize(("key", "stored"), STORED, ids=lambda v: v.name if isinstance(v, ExtraKey) else "")
def test_a_typed_key_reads_back_and_stores_the_bytes_its_writer_stored_before(
    key: ExtraKey[Any], stored: Any
) -> None:
    """Reading a stored value (as it comes from a results file) and storing it again gives the same
    JSON, byte for byte and key order included: typing the keys changed no file."""
    before = json.dumps(stored)
    m = _measurement()
    m.extra[key.name] = json.loads(before)
    value = key.get(m)
    assert value is not None
    again = _measurement()
    key.put(again, value)
    assert json.dumps(again.extra[key.name]) == before
    assert json.dumps(again.to_dict()["extra"]) == json.dumps({key.name: stored})


def test_a_verdict_whose_message_is_replaced_is_stored_as_the_edited_dict_was() -> None:
    """The gate, compare and ab replace a verdict's message; they used to edit the stored dict."""
    edited = verdict_record(_measurement(), [], "k")
    edited["message"] = "not compared: its baseline entry holds a bad number (nan)"
    m = _measurement()
    record = dataclasses.replace(build_verdict(_measurement(), [], "k"), message=edited["message"])
    extra_keys.VERDICT.put(m, record)
    assert json.dumps(m.extra["verdict"]) == json.dumps(edited)


@pytest.mark.parametrize("key", sorted({k for k, _ in STORED}, key=lambda k: k.name), ids=lambda k: k.name)
def test_a_value_not_of_its_shape_reads_as_absent(key: ExtraKey[Any]) -> None:
    m = _measurement()
    assert key.get(m) is None and not key.present(m)
    m.extra[key.name] = "not a record" if key is not extra_keys.PASSED else "yes"
    assert key.get(m) is None and key.present(m)


#: The package that writes each typed key: it alone may still read it by its string.
WRITER = {
    "verdict": "baseline",
    "passed": "",  # the session (core)
    "thresholds": "baseline",
    "noise": "baseline",
    "remeasured": "baseline",
    "remeasured_under_load": "baseline",
    "explanation": "baseline",
    "health": "environment",
    "gpu": "environment",
    "memory": "profiling",
    "profile_artifacts": "profiling",
    "instruction_hotspots": "profiling",
    "instructions": "instructions",
    "instruction_profile": "instructions",
}


def test_every_key_read_outside_its_writer_is_typed() -> None:
    """A string read of a typed key (``m.extra.get("health")``, ``m.extra["verdict"]``) outside its
    writer's package bypasses the type mypy checks: read it through ``extra_keys`` instead."""
    assert set(WRITER) == {k.name for k, _ in STORED}
    root = Path(pytest_causal_eval.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        package = rel.split("/")[0] if "/" in rel else ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if isinstance(node, ast.Subscript) and _is_extra(node.value):
                key = node.slice
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_extra(node.func.value)
            ):
                key = node.args[0] if node.func.attr in ("get", "setdefault", "pop") and node.args else None
            elif (
                isinstance(node, ast.Compare)
                and len(node.comparators) == 1
                and _is_extra(node.comparators[0])
            ):
                key = node.left
            if isinstance(key, ast.Constant) and key.value in WRITER and WRITER[key.value] != package:
                found.append(f"{rel}:{node.lineno}: {key.value}")
    assert found == []


def _is_extra(node: ast.expr) -> bool:
    """``<measurement>.extra`` (a results file's own ``results.extra`` holds other keys)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "extra"):
        return False
    return not (isinstance(node.value, ast.Name) and node.value.id == "results")
