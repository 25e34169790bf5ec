"""What profiling costs, and proof that it does not touch the timed numbers.

Runs one small benchmark suite with ``--causal-eval-profile`` off, cpu, memory and all, interleaved
(each repetition runs every configuration once, in a rotated order), and reports:

* the suite's wall time per configuration (median of the repetitions) and its ratio to ``off``;
* the timed medians of every measurement with profiling on, relative to ``off`` of the same
  repetition: the median ratio and the widest one. Profiling runs in a separate untimed pass, so these
  ratios must sit at 1.0 within the machine's noise.

Usage: ``python benchmarks/profile_cost.py [--repetitions 5] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("off", "cpu", "memory", "all")

SUITE = """
import pytest

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def build(n):
    table = {}
    for i in range(n):
        table[str(i)] = [i] * 8
    return len(table)

def sort_rows(n):
    rows = [((i * 7919) % n, str(i)) for i in range(n)]
    rows.sort()
    return rows[0]

@pytest.mark.parametrize("n", [2_000, 20_000])
def test_spin(causal_bench, n):
    causal_bench(spin, n)

@pytest.mark.parametrize("n", [1_000, 10_000])
def test_build(causal_bench, n):
    causal_bench(build, n)

def test_sort(causal_bench):
    causal_bench(sort_rows, 20_000)
"""


def run_suite(suite: Path, mode: str, workdir: Path) -> tuple[float, dict[str, float]]:
    out = workdir / f"{mode}.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        str(suite),
        "--causal-eval",
        f"--causal-eval-profile={mode}",
        "--causal-eval-max-time=0.5",
        f"--causal-eval-json={out}",
        f"--causal-eval-report={workdir / 'report'}",
        f"--causal-eval-baselines={workdir / 'baselines'}",
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"suite failed with profile={mode}:\n{done.stdout}\n{done.stderr}")
    data = json.loads(out.read_text())
    medians = {m["id"]: float(m["stats"]["median"]) for m in data["measurements"] if m.get("stats")}
    return wall, medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the suite and reports in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-cost-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        suite = workdir / "test_profile_cost_suite.py"
        suite.write_text(SUITE)
        walls: dict[str, list[float]] = {m: [] for m in MODES}
        ratios: dict[str, list[float]] = {m: [] for m in MODES}
        noise: list[float] = []  # off vs the previous repetition's off: the machine's own spread
        previous_off: dict[str, float] | None = None
        for rep in range(args.repetitions):
            order = MODES[rep % len(MODES) :] + MODES[: rep % len(MODES)]
            medians: dict[str, dict[str, float]] = {}
            for mode in order:
                wall, medians[mode] = run_suite(suite, mode, workdir)
                walls[mode].append(wall)
                print(f"rep {rep + 1}/{args.repetitions} {mode:>6}: {wall:6.2f} s", file=sys.stderr)
            for mode in MODES:
                ratios[mode].extend(medians[mode][k] / medians["off"][k] for k in medians["off"])
            if previous_off is not None:
                noise.extend(medians["off"][k] / previous_off[k] for k in previous_off)
            previous_off = medians["off"]
        off_wall = statistics.median(walls["off"])
        print(f"suite: 5 measurements, {args.repetitions} interleaved repetitions per configuration\n")
        print("| profile | suite wall (median) | vs off | timed median vs off: median | min..max |")
        print("|---|---|---|---|---|")
        for mode in MODES:
            wall = statistics.median(walls[mode])
            r = ratios[mode]
            print(
                f"| {mode} | {wall:.2f} s | {wall / off_wall:.2f}x | {statistics.median(r):.3f} "
                f"| {min(r):.3f}..{max(r):.3f} |"
            )
        if noise:
            print(
                f"| off, rep vs previous rep (noise) | - | - | {statistics.median(noise):.3f} "
                f"| {min(noise):.3f}..{max(noise):.3f} |"
            )
        print("\nTimed medians are per measurement, profiled run / unprofiled run of the same repetition.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
