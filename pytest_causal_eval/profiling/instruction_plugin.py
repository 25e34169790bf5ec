"""Instruction-mode hotspots: read every measurement's callgrind file after counting, store the functions
that matter in ``extra["instruction_hotspots"]`` (kept by the baseline) and explain an ``instructions``
or ``estimated_cycles`` regression with their diff against the baseline's.

The files are parsed by a child process valgrind does not follow, so at native speed
(``callgrind_hotspots``'s ``__main__``): once at the end of the run for all measurements (before the
baseline is saved), and right away for a measurement that regressed.

Registered by ``profiling.feature.configure`` in ``--causal-eval-mode=instructions`` only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from pytest_causal_eval.extra_keys import INSTRUCTION_HOTSPOTS, INSTRUCTION_PROFILE
from pytest_causal_eval.profiling.callgrind_hotspots import InstructionHotspot, instruction_hotspot_lines
from pytest_causal_eval.results import Measurement, RunResults

__all__ = [
    "EXTRA_KEY",
    "INSTRUCTION_METRICS",
    "PLUGIN_NAME",
    "InstructionHotspotsPlugin",
    "parse_natively",
]

PLUGIN_NAME = "causal_eval_instruction_hotspots"
EXTRA_KEY = "instruction_hotspots"
INSTRUCTION_METRICS = ("instructions", "estimated_cycles")
PARSE_TIMEOUT = 300.0  # seconds, for all the files of a run
PARSER_MODULE = "pytest_causal_eval.profiling.callgrind_hotspots"

Runner = Callable[[Sequence[Mapping[str, Any]]], list[Any]]


def parse_natively(requests: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Hotspots of callgrind files, parsed by ``python -m callgrind_hotspots`` in a child process.

    Under valgrind the child runs natively (callgrind does not trace children); outside valgrind
    (tests, the CLI) it is just another process. One entry per request: a list of dicts or an error.
    """
    proc = subprocess.run(
        [sys.executable, "-m", PARSER_MODULE],
        input=json.dumps(list(requests)),
        capture_output=True,
        text=True,
        timeout=PARSE_TIMEOUT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the callgrind parser exited with {proc.returncode}: {tail}")
    out = json.loads(proc.stdout)
    if not isinstance(out, list) or len(out) != len(requests):
        raise RuntimeError("the callgrind parser answered with something else than one result per file")
    return out


def _request(measurement: Measurement, roots: Sequence[str], exclude: Sequence[str]) -> dict[str, Any] | None:
    """What the parser reads for one measurement: its profile's callgrind file and, on 3.12+, the
    perf map that names its Python frames (``INSTRUCTION_PROFILE``, written by the instructions
    feature); None when there is no file (any more)."""
    files = INSTRUCTION_PROFILE.get(measurement)
    if files is None or not os.path.exists(files.dump):
        return None
    request: dict[str, Any] = {
        "path": files.dump,
        "calls": files.calls,
        "roots": list(roots),
        "exclude": list(exclude),
    }
    if files.perf_map is not None and os.path.exists(files.perf_map):
        request["perf_map"] = files.perf_map
    return request


class InstructionHotspotsPlugin:
    def __init__(
        self, roots: Sequence[str], exclude: Sequence[str] = (), runner: Runner = parse_natively
    ) -> None:
        self.roots = list(roots)
        self.exclude = list(exclude)
        self.runner = runner
        self.problems: list[str] = []

    def fill(self, measurements: Sequence[Measurement]) -> None:
        """Read the hotspots of every measurement that has a callgrind file and none yet (one child)."""
        todo = [
            (m, req)
            for m in measurements
            if EXTRA_KEY not in m.extra and (req := _request(m, self.roots, self.exclude)) is not None
        ]
        if not todo:
            return
        try:
            answers = self.runner([req for _, req in todo])
        except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            for m, _ in todo:
                _note(m, f"instruction hotspots: {exc}")
            return
        for (m, _), answer in zip(todo, answers, strict=True):
            if isinstance(answer, list):
                INSTRUCTION_HOTSPOTS.put(m, answer)
            else:
                _note(m, f"instruction hotspots: {answer}")

    @pytest.hookimpl(tryfirst=True)  # before the baseline is saved from the same results
    def pytest_causal_eval_session_results(self, config: pytest.Config, results: RunResults) -> None:
        self.fill(results.measurements)

    def pytest_causal_eval_explain(
        self,
        item: pytest.Item,
        measurement: Measurement,
        baseline: Measurement | None,
        workload: Callable[[], Any] | None,
        metric: str,
    ) -> list[str] | None:
        if metric not in INSTRUCTION_METRICS:
            return None
        self.fill([measurement])
        if EXTRA_KEY not in measurement.extra:
            notes = [n for n in measurement.extra.get("profile_notes", []) if "instruction" in n]
            return notes or ["no instruction hotspots: this measurement has no callgrind file"]
        current = _hotspots(measurement.extra.get(EXTRA_KEY))
        before = _hotspots(baseline.extra.get(EXTRA_KEY)) if baseline is not None else []
        known = baseline.metrics.get("instructions") if baseline is not None else None
        lines = instruction_hotspot_lines(current, before or None, known.value if known else None)
        if metric == "estimated_cycles":
            lines.insert(0, "(functions by instructions executed; cache misses are not broken down)")
        return lines


def _hotspots(raw: Any) -> list[InstructionHotspot]:
    if not isinstance(raw, list):
        return []
    return [InstructionHotspot.from_dict(h) for h in raw if isinstance(h, Mapping)]


def _note(measurement: Measurement, text: str) -> None:
    notes: list[str] = measurement.extra.setdefault("profile_notes", [])
    if text not in notes:
        notes.append(text)
