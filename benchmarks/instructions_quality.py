"""Instruction mode against time mode: false alarms, misses and spread on the same planted trials.

Six workloads of different kinds (a pure-Python loop, string building, sorting, dict-heavy code, numpy
vectorised arithmetic, an evaluation by the causal engine), each made of 100 units of work; a planted
slowdown of P% adds P more units of the same work (so the planted work change is exactly P%, in
units; the fixed part of a call, such as the engine's scoring, makes the measured change of the whole
call a little smaller). The workloads run as tests of a small generated project through the real
plugin: ``pytest --causal-eval`` in time mode and ``--causal-eval-mode=instructions``, each mode with
its own baseline, saved once at the start (as users do: one saving session, every planted level's
test measured at 0%), then judged in every trial. Trials alternate the two modes (time first in odd
trials, instructions first in even ones), so load and drift touch both alike.

    python benchmarks/instructions_quality.py                      # 10 trials, all workloads, quiet
    python benchmarks/instructions_quality.py --busy               # a busy process on every other core
    python benchmarks/instructions_quality.py --trials 1 --workloads loop,sort --levels 0,12   # smoke
    python benchmarks/instructions_quality.py --json raw.json      # also the raw per-trial figures

Reported per workload and planted level, for each mode: regressions flagged / trials, the median
measured change; at 0% the spread of the measured value across trials ((max - min) / median); the
Spearman rank correlation between the instruction change and the time change over the planted
cases; the issue's goals for instruction mode, checked; and the wall time of one pytest run per mode.
The machine may be shared with other work: the time columns say what it did to timings then.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WORKLOADS = ("loop", "strings", "sort", "dict", "numpy", "engine")
PYTHON_WORKLOADS = ("loop", "strings", "sort", "dict")  # the goal on the measured change is theirs
LEVELS = (0, 5, 8, 12, 15, 25)
MODES = ("instructions", "time")
UNITS = 100  # units of work of a workload at 0%: P% planted = P more units

PROJECT_TESTS = '''
"""Workloads of instructions_quality.py: UNITS units of work, plus the planted ones."""

import json
import os
import random

import pytest

UNITS = {units}
SELECTED = os.environ["QUALITY_WORKLOADS"].split(",")
LEVELS = [int(x) for x in os.environ["QUALITY_LEVELS"].split(",")]
SAVING = os.environ.get("QUALITY_SAVING") == "1"  # the baseline: every level's test at 0%

_rng = random.Random(7)
WORDS = [f"w{{_rng.randrange(10**6):06d}}" for _ in range(150)]
KEYS = [f"k{{i % 40}}" for i in range(80)]


def loop_unit():
    total = 0
    for i in range(300):
        total += i * i % 7
    return total


def strings_unit():
    return "".join(f"{{i}}-{{i * 3}}," for i in range(60)).upper()


def sort_unit():
    return sorted(WORDS)


def dict_unit():
    counts = {{}}
    for key in KEYS:
        counts[key] = counts.get(key, 0) + 1
    return sum(counts.values())


def make(name, units):
    if name == "numpy":
        import numpy as np

        a = np.linspace(0.0, 1.0, 5000)
        b = np.linspace(1.0, 2.0, 5000)

        def numpy_work():
            return sum(float((a * b + 0.5).sum()) for _ in range(units))

        return numpy_work
    if name == "engine":
        from pytest_causal_eval.engine import Evaluator, create_model, create_task

        stream = create_task("confounding").questions(seed=1)
        questions = [next(stream) for _ in range(units)]
        evaluator = Evaluator(create_model("oracle"), batch_size=10, executor="serial", bootstrap_reps=100)

        def engine_work():
            return evaluator.run(questions).accuracy

        return engine_work
    unit = globals()[name + "_unit"]

    def work():
        for _ in range(units):
            unit()

    return work


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("workload", SELECTED)
def test_workload(causal_bench, workload, level):
    planted = 0 if SAVING else level
    causal_bench(make(workload, UNITS + planted * UNITS // 100))
'''


def _spin() -> None:  # pragma: no cover - a busy process
    while True:
        pass


def start_busy() -> list[multiprocessing.Process]:
    """One spinning process on every other core (at least one)."""
    count = max(1, (os.cpu_count() or 2) - 1)
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for p in procs:
        p.start()
    return procs


def stop_busy(procs: Sequence[multiprocessing.Process]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(timeout=5)


def pytest_run(
    project: Path,
    mode: str,
    baselines: Path,
    out: Path,
    workloads: Sequence[str],
    levels: Sequence[int],
    save: bool,
) -> float:
    """One pytest run of the project in ``mode``; its wall time. The results go to ``out``."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "test_quality.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--causal-eval",
        f"--causal-eval-mode={mode}",
        f"--causal-eval-baselines={baselines}",
        f"--causal-eval-json={out}",
        "--causal-eval-history=off",
    ]
    if save:
        cmd.append("--causal-eval-save")
    env = dict(
        os.environ,
        QUALITY_WORKLOADS=",".join(workloads),
        QUALITY_LEVELS=",".join(str(level) for level in levels),
        QUALITY_SAVING="1" if save else "0",
    )
    env.pop("GITHUB_STEP_SUMMARY", None)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not out.exists():
        raise RuntimeError(
            f"pytest ({mode}) exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds


def read_verdicts(out: Path, mode: str) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (workload, level): the verdict of the mode's metric, its change and the measured value."""
    metric = "instructions" if mode == "instructions" else "time"
    doc = json.loads(out.read_text())
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for m in doc["measurements"]:
        workload, level = m["params"]["workload"], int(m["params"]["level"])
        record = (m.get("extra") or {}).get("verdict") or {}
        comparison = next((c for c in record.get("all", []) if c.get("metric") == metric), None)
        if metric == "instructions":
            value = float(m["metrics"]["instructions"]["value"])
        else:
            value = float(statistics.median(m["samples"])) if m.get("samples") else float("nan")
        found[(workload, level)] = {
            "verdict": comparison["verdict"] if comparison else record.get("verdict", "none"),
            "change": float(comparison["change"]) if comparison else float("nan"),
            "value": value,
        }
    return found


def run_trials(
    trials: int, workloads: Sequence[str], levels: Sequence[int], busy: bool
) -> tuple[dict[str, list[dict[tuple[str, int], dict[str, Any]]]], dict[str, list[float]]]:
    results: dict[str, list[dict[tuple[str, int], dict[str, Any]]]] = {m: [] for m in MODES}
    seconds: dict[str, list[float]] = {m: [] for m in MODES}
    helpers = start_busy() if busy else []
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="instructions-quality-") as tmp:
            project = Path(tmp)
            (project / "test_quality.py").write_text(PROJECT_TESTS.format(units=UNITS))
            for mode in MODES:  # the baselines, saved once per mode
                pytest_run(
                    project,
                    mode,
                    project / f"baselines-{mode}",
                    project / "save.json",
                    workloads,
                    levels,
                    True,
                )
                print(
                    f"baseline saved ({mode}, {time.perf_counter() - started:.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )
            for trial in range(trials):
                order = MODES if trial % 2 else MODES[::-1]
                for mode in order:
                    out = project / f"{mode}-{trial}.json"
                    seconds[mode].append(
                        pytest_run(
                            project, mode, project / f"baselines-{mode}", out, workloads, levels, False
                        )
                    )
                    results[mode].append(read_verdicts(out, mode))
                elapsed = time.perf_counter() - started
                print(f"trial {trial + 1}/{trials} done ({elapsed:.0f}s)", file=sys.stderr, flush=True)
    finally:
        stop_busy(helpers)
    return results, seconds


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None with fewer than 3 pairs."""
    if len(xs) < 3 or len(xs) != len(ys):
        return None

    def ranks(values: Sequence[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2.0 + 1.0
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = sum((a - mx) ** 2 for a in rx) ** 0.5
    sy = sum((b - my) ** 2 for b in ry) ** 0.5
    return None if sx == 0 or sy == 0 else cov / (sx * sy)


def _spread(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v == v]
    if len(finite) < 2 or statistics.median(finite) == 0:
        return None
    return (max(finite) - min(finite)) / statistics.median(finite)


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value * 100:+.{digits}f}%"


def render(
    results: dict[str, list[dict[tuple[str, int], dict[str, Any]]]],
    seconds: dict[str, list[float]],
    workloads: Sequence[str],
    levels: Sequence[int],
    busy: bool,
) -> list[str]:
    trials = len(results["instructions"])
    lines = [
        f"{trials} trial(s) per cell, {'a busy process on every other core' if busy else 'no extra load'}; "
        "flagged = verdict regressed against the baseline saved once per mode at the start",
        "",
        "| workload | planted work | instructions: flagged | instructions: median change | "
        "time: flagged (inconclusive) | time: median change |",
        "|---|---|---|---|---|---|",
    ]
    goals: dict[str, bool] = {}
    worst_spread = 0.0
    worst_gap = 0.0
    pairs: list[tuple[float, float]] = []
    for workload in workloads:
        for level in levels:
            cells = {mode: [trial[(workload, level)] for trial in results[mode]] for mode in MODES}
            flagged = {mode: sum(1 for c in cells[mode] if c["verdict"] == "regressed") for mode in MODES}
            undecided = sum(1 for c in cells["time"] if c["verdict"] == "inconclusive")
            medians = {
                mode: statistics.median([c["change"] for c in cells[mode]]) if cells[mode] else None
                for mode in MODES
            }
            lines.append(
                f"| {workload} | +{level}% | {flagged['instructions']}/{trials} | "
                f"{_pct(medians['instructions'], 2)} | "
                f"{flagged['time']}/{trials} ({undecided}) | {_pct(medians['time'])} |"
            )
            if level <= 8:
                goals.setdefault("no regression at 0, +5, +8%", True)
                goals["no regression at 0, +5, +8%"] &= flagged["instructions"] == 0
            if level >= 12:
                goals.setdefault("every +12% and above caught", True)
                goals["every +12% and above caught"] &= flagged["instructions"] == trials
            if workload in PYTHON_WORKLOADS and medians["instructions"] is not None and level > 0:
                worst_gap = max(worst_gap, abs(medians["instructions"] * 100 - level))
            if level > 0:
                pairs += [
                    (a["change"], b["change"])
                    for a, b in zip(cells["instructions"], cells["time"], strict=True)
                ]
    lines += [
        "",
        "| workload | spread of the count at 0% across trials | spread of the median time at 0% |",
        "|---|---|---|",
    ]
    for workload in workloads:
        if 0 not in levels:
            break
        spread = {mode: _spread([t[(workload, 0)]["value"] for t in results[mode]]) for mode in MODES}
        worst_spread = max(worst_spread, spread["instructions"] or 0.0)
        lines.append(f"| {workload} | {_pct(spread['instructions'], 3)} | {_pct(spread['time'])} |")
    finite = [(a, b) for a, b in pairs if a == a and b == b]
    rho = spearman([a for a, _ in finite], [b for _, b in finite])
    lines += [
        "",
        f"Spearman rank correlation, instruction change vs time change over the {len(finite)} planted cases: "
        + ("-" if rho is None else f"{rho:.2f}"),
    ]
    if 0 in levels and trials >= 2:
        goals["run-to-run spread of the count <= 0.1%"] = worst_spread <= 0.001
    if any(w in PYTHON_WORKLOADS for w in workloads) and any(level > 0 for level in levels):
        goals["instruction change within 2 points of the planted work (Python workloads)"] = worst_gap <= 2.0
    lines += ["", "Goals for instruction mode:"]
    for goal, met in goals.items():
        lines.append(f"- {goal}: {'met' if met else 'NOT met'}")
    lines.append(
        f"  (largest spread {worst_spread * 100:.3f}%, "
        f"largest gap to the planted work {worst_gap:.2f} points)"
    )
    if seconds["time"] and seconds["instructions"]:
        t, i = statistics.median(seconds["time"]), statistics.median(seconds["instructions"])
        lines += [
            "",
            f"wall time of one pytest run of these {len(workloads) * len(levels)} measurements: time mode "
            f"{t:.1f} s, instruction mode {i:.1f} s (x{i / t:.2f}; medians over trials)",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=10, help="trials per cell (default 10)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default all six)")
    parser.add_argument(
        "--levels",
        default=",".join(str(x) for x in LEVELS),
        help="planted slowdowns in %% (default 0,5,8,12,15,25)",
    )
    parser.add_argument("--busy", action="store_true", help="run a busy process on every other core")
    parser.add_argument("--json", type=Path, help="also write the raw per-trial figures here")
    args = parser.parse_args(argv)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or not workloads:
        parser.error(f"--workloads: expected some of {', '.join(WORKLOADS)}, got {args.workloads!r}")
    try:
        levels = [int(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--levels: expected whole percentages such as 0,5,12, got {args.levels!r}")
    if not levels or any(level < 0 for level in levels):
        parser.error(f"--levels: expected whole percentages such as 0,5,12, got {args.levels!r}")
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    started = time.perf_counter()
    results, seconds = run_trials(args.trials, workloads, levels, args.busy)
    lines = render(results, seconds, workloads, levels, args.busy)
    lines.append(f"total runtime {time.perf_counter() - started:.0f} s")
    print("\n".join(lines))
    if args.json is not None:
        raw = {
            mode: [{f"{w}@{lvl}": cell for (w, lvl), cell in trial.items()} for trial in trials]
            for mode, trials in results.items()
        }
        args.json.write_text(json.dumps({"results": raw, "seconds": seconds, "busy": args.busy}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
