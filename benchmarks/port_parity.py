"""Does a pytest-benchmark suite port to pytest-causal-eval without hand edits, and do the two agree?

The committed suite ``benchmarks/port_parity_suite`` is shaped like the suites users migrate: plain
calls, pedantic with setup, ``extra_info``, marker groups and keys, ``--benchmark-*`` options in
its ``addopts``, pytest-benchmark hooks in its conftest, an async workload, ``benchmark.stats``.

1. A copy runs under pytest-benchmark as its authors run it (``pytest --benchmark-json``; this
   plugin blocked, ``-p no:causal_eval``).
2. Another copy is rewritten by ``causal-eval port`` (no hand edit) and runs under this plugin
   with pytest-benchmark blocked (``pytest -p no:benchmark --causal-eval``).

Each trial runs both, the order alternating between trials, so the machine's drift hits both
alike. Reported: tests that pass after the port (goal: all); per benchmark the median of each
harness (the median over trials of each run's median) and their ratio; the geometric mean of the
ratios (goal: within 3% of 1); the wall time of each harness for the whole suite.

    python benchmarks/port_parity.py              # 5 trials (about 4 minutes)
    python benchmarks/port_parity.py --trials 3 --json out.json
    python benchmarks/port_parity.py --per-benchmark   # medians from one benchmark at a time

``--per-benchmark``: after the whole-suite trials (which give the porting outcome and the wall
times), each benchmark runs alone (``pytest NODEID``) under each harness in turn, the order
alternating, ``--trials`` times; its ratio is the median of the ratios of the two runs of each
turn, seconds apart. A whole suite takes a minute under pytest-benchmark, and on a shared virtual
machine the speed of the host moves more than 3% in that time (pytest-benchmark's own medians moved
1.8x between two whole-suite runs here): the two sides of a benchmark should be measured close
together. The per-turn ratios are printed too: on a machine whose other processes slow this one
by a factor at times (a 3 us call here read 2.9 us or 4.7-5.1 us, switching every 50-500 ms), a
turn whose two runs fell on different sides reads about 1.7 or 0.6 whatever the harnesses do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parent / "port_parity_suite"
# pytest-asyncio (a dev dependency) is not part of the suite's world on either side.
COMMON = ("-p", "no:cacheprovider", "-p", "no:asyncio", "-q")


def run(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *COMMON, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    return proc, time.perf_counter() - started


def passed(proc: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    """(passed, total) from pytest's last line."""
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts: dict[str, int] = {}
    for part in last.replace("=", " ").split(","):
        words = part.split()
        if len(words) >= 2 and words[0].isdigit():
            counts[words[1]] = int(words[0])
    total = sum(v for k, v in counts.items() if k in ("passed", "failed", "error", "errors"))
    return counts.get("passed", 0), total


def theirs(workdir: Path, *select: str) -> tuple[dict[str, float], float, tuple[int, int]]:
    out = workdir / "theirs.json"
    proc, wall = run(workdir, "-p", "no:causal_eval", f"--benchmark-json={out}", *select)
    data = json.loads(out.read_text())
    medians = {b["fullname"]: float(b["stats"]["median"]) for b in data["benchmarks"]}
    return medians, wall, passed(proc)


def ours(workdir: Path, *select: str) -> tuple[dict[str, float], float, tuple[int, int]]:
    out = workdir / "ours.json"
    proc, wall = run(
        workdir,
        "-p",
        "no:benchmark",
        "--causal-eval",
        f"--causal-eval-json={out}",
        "--causal-eval-history=off",
        "--causal-eval-health-sample=off",
        *select,
    )
    data = json.loads(out.read_text())
    medians = {m["id"]: float(m["stats"]["median"]) for m in data["measurements"] if m.get("stats")}
    return medians, wall, passed(proc)


def per_benchmark(names: list[str], original: Path, ported: Path, trials: int) -> dict[str, list[float]]:
    """Per benchmark (``file::test[param]``): the ratio of the two harnesses' medians in each turn,
    each run alone, one right after the other (the order alternating)."""
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(trials):
        for index, name in enumerate(names):
            sides = [("theirs", original), ("ours", ported)]
            if (turn + index) % 2:
                sides.reverse()
            medians: dict[str, float] = {}
            for side, workdir in sides:
                measured, _, _ = (theirs if side == "theirs" else ours)(workdir, name)
                if name in measured:
                    medians[side] = measured[name]
            if len(medians) == 2:
                ratios[name].append(medians["ours"] / medians["theirs"])
        print(f"turn {turn + 1}/{trials} of the benchmarks run one at a time done")
    return {name: values for name, values in ratios.items() if values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    parser.add_argument(
        "--per-benchmark",
        action="store_true",
        help="also run each benchmark alone under each harness in turn, and judge by those (see above)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="port-parity-") as tmp:
        original = Path(tmp) / "original"
        ported = Path(tmp) / "ported"
        ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".benchmarks", "ruff.toml")
        shutil.copytree(SUITE, original, ignore=ignore)
        shutil.copytree(SUITE, ported, ignore=ignore)
        port = subprocess.run(
            [sys.executable, "-m", "pytest_causal_eval.cli", "port", str(ported)],
            capture_output=True,
            text=True,
            check=False,
        )
        not_ported = [line for line in (port.stdout + port.stderr).splitlines() if ": not ported: " in line]
        print(f"causal-eval port: exit {port.returncode}, {len(not_ported)} item(s) it could not port:")
        for line in not_ported:
            print(f"  {line.split(str(ported) + '/')[-1]}")

        their_runs: list[dict[str, float]] = []
        our_runs: list[dict[str, float]] = []
        their_wall: list[float] = []
        our_wall: list[float] = []
        outcome_theirs = outcome_ours = (0, 0)
        for trial in range(args.trials):
            order = [("theirs", original), ("ours", ported)]
            if trial % 2:
                order.reverse()
            for side, workdir in order:
                if side == "theirs":
                    medians, wall, outcome_theirs = theirs(workdir)
                    their_runs.append(medians)
                    their_wall.append(wall)
                else:
                    medians, wall, outcome_ours = ours(workdir)
                    our_runs.append(medians)
                    our_wall.append(wall)
            print(
                f"trial {trial + 1}/{args.trials}: pytest-benchmark {their_wall[-1]:.1f}s, "
                f"causal-eval {our_wall[-1]:.1f}s"
            )
        names = sorted(set(their_runs[0]) & set(our_runs[0]))
        paired = per_benchmark(names, original, ported, args.trials) if args.per_benchmark else {}

    rows: list[dict[str, Any]] = []
    for name in names:
        a = statistics.median(r[name] for r in their_runs if name in r)
        b = statistics.median(r[name] for r in our_runs if name in r)
        ratio = statistics.median(paired[name]) if name in paired else b / a
        rows.append({"benchmark": name, "pytest_benchmark": a, "causal_eval": b, "ratio": ratio})
    if paired:
        print()
        print("ratio: the median over turns of causal-eval / pytest-benchmark, each benchmark run alone")
    geomean = math.exp(statistics.fmean(math.log(r["ratio"]) for r in rows))

    print()
    print(
        f"tests passing: pytest-benchmark {outcome_theirs[0]}/{outcome_theirs[1]}, "
        f"ported to causal-eval without hand edits {outcome_ours[0]}/{outcome_ours[1]}"
    )
    print()
    turns = " | per-turn ratios" if paired else ""
    print(f"| benchmark | pytest-benchmark median | causal-eval median | ratio{turns} |")
    print("|---|---:|---:|---:" + ("|---:" if paired else "") + "|")
    for r in rows:
        each = paired.get(r["benchmark"], [])
        per_turn = f" | {' '.join(f'{x:.2f}' for x in each)}" if paired else ""
        print(
            f"| {r['benchmark']} | {r['pytest_benchmark'] * 1e6:.2f} µs | "
            f"{r['causal_eval'] * 1e6:.2f} µs | {r['ratio']:.3f}{per_turn} |"
        )
    print(f"| **geometric mean of the ratios** | | | **{geomean:.3f}** |" + (" |" if paired else ""))
    print()
    print(
        f"wall time of the whole suite (median of {args.trials}): pytest-benchmark "
        f"{statistics.median(their_wall):.1f} s, causal-eval {statistics.median(our_wall):.1f} s"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "trials": args.trials,
                    "not_ported": not_ported,
                    "passed": {"pytest_benchmark": outcome_theirs, "causal_eval": outcome_ours},
                    "rows": rows,
                    "geometric_mean_ratio": geomean,
                    "per_benchmark_ratios": paired,
                    "wall": {"pytest_benchmark": their_wall, "causal_eval": our_wall},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
