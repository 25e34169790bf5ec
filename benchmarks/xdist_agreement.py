"""Does timing under pytest-xdist agree with a serial run? A/A benchmark of --causal-eval-xdist modes.

A generated suite (timed measurements mixed with untimed correctness tests) runs with ``-n 0`` and
with ``-n 2`` under each ``--causal-eval-xdist`` mode, interleaved over several repetitions. The
code never changes (A/A), so every verdict should be "pass":

* verdict agreement: share of measurements whose verdict matches the ``-n 0`` verdict (pass). Real
  verdicts from the baseline gate when it is installed (a baseline saved by a separate ``-n 0`` run,
  compared with ``--causal-eval-baselines``), else the median within +-10% of the ``-n 0`` median;
* median shift: per measurement, median under the mode / median under ``-n 0`` - 1 (medians over the
  repetitions); the table shows the median of those shifts and of their absolute values;
* wall time of the whole suite, and its ratio to ``-n 0``.

Usage: python benchmarks/xdist_agreement.py [--reps 3] [--max-time 200ms] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

TIMED = """
import json
import re

import pytest

DATA = list(range(2000))
TEXT = " ".join(f"word{i}" for i in range(500))
DOC = {"rows": [{"id": i, "name": f"n{i}", "score": i / 7} for i in range(200)]}


def _loop():
    total = 0
    for i in range(3000):
        total += i * i
    return total


WORKLOADS = {
    "loop": _loop,
    "sort": lambda: sorted(DATA, key=lambda v: -v),
    "dict": lambda: {i: str(i) for i in range(1500)},
    "join": lambda: ",".join(str(i) for i in range(1500)),
    "json": lambda: json.loads(json.dumps(DOC)),
    "regex": lambda: re.findall(r"word(\\d+)", TEXT),
    "comprehension": lambda: [x * 2 for x in DATA if x % 3],
    "sum_sq": lambda: sum(x * x for x in DATA),
    "split": lambda: TEXT.split(" "),
    "set_ops": lambda: len(set(DATA) & set(range(0, 4000, 3))),
}
"""

CORRECT = """

@pytest.mark.parametrize("i", range(8))
def test_cpu_bound_{k}(i):
    deadline = time.perf_counter() + 0.05
    n = 0
    while time.perf_counter() < deadline:
        n += 1
    assert n > 0


@pytest.mark.parametrize("i", range(4))
def test_io_bound_{k}(i):
    time.sleep(0.1)
"""


def suite_source() -> str:
    """Timed and correctness tests interleaved in collection order, as in a real mixed suite."""
    names = ["loop", "sort", "dict", "join", "json", "regex", "comprehension", "sum_sq", "split", "set_ops"]
    parts = [textwrap.dedent(TIMED), "import time\n"]
    for k, name in enumerate(names):
        parts.append(f"\n\ndef test_timed_{name}(causal_bench):\n    causal_bench(WORKLOADS[{name!r}])\n")
        parts.append(CORRECT.format(k=k))
    return "".join(parts)


MODES: list[tuple[str, list[str]]] = [
    ("-n 0", []),
    ("-n 2 off", ["-n", "2", "--causal-eval-xdist=off"]),
    ("-n 2 pin", ["-n", "2", "--causal-eval-xdist=pin"]),
    ("-n 2 serial", ["-n", "2", "--causal-eval-xdist=serial"]),
]


def _has_gate() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "--causal-eval-baselines" in out and "--causal-eval-save" in out


def _run(suite: Path, args: list[str], out: Path, common: list[str]) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *common, *args]
    cmd += ["--causal-eval-json", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=suite, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if not out.exists():
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"run failed: {' '.join(args) or '-n 0'} (exit {proc.returncode})")
    return wall


def _load(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    return {m["id"]: m for m in data["measurements"] if m.get("samples")}


def _verdict(m: dict[str, Any], reference_median: float, gate: bool) -> str:
    if gate:
        verdict = (m.get("extra") or {}).get("verdict") or {}
        if isinstance(verdict, dict) and verdict.get("verdict"):
            return str(verdict["verdict"])
    shift = m["stats"]["median"] / reference_median - 1
    return "pass" if abs(shift) <= 0.10 else ("regressed" if shift > 0 else "improved")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--reps", type=int, default=3, help="interleaved repetitions of every mode (default 3)"
    )
    parser.add_argument("--max-time", default="200ms", help="--causal-eval-max-time per measurement")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)

    gate = _has_gate()
    with tempfile.TemporaryDirectory(prefix="causal-eval-xdist-") as tmp:
        suite = Path(tmp) / "suite"
        suite.mkdir()
        (suite / "test_suite.py").write_text(suite_source())
        common = [
            "--causal-eval",
            f"--causal-eval-max-time={args.max_time}",
            "--causal-eval-health-sample=off",
        ]
        if gate:
            baselines = Path(tmp) / "baselines"
            _run(
                suite,
                ["--causal-eval-baselines", str(baselines), "--causal-eval-save"],
                Path(tmp) / "ref.json",
                common,
            )
            common += ["--causal-eval-baselines", str(baselines)]
        runs: dict[str, list[tuple[float, dict[str, dict[str, Any]]]]] = {name: [] for name, _ in MODES}
        for rep in range(args.reps):
            for name, extra in MODES:
                out = Path(tmp) / f"run-{rep}-{name.replace(' ', '_')}.json"
                wall = _run(suite, extra, out, common)
                runs[name].append((wall, _load(out)))
                print(f"rep {rep + 1}/{args.reps} {name:12s} {wall:6.1f}s", file=sys.stderr)

    def medians(name: str) -> dict[str, float]:
        ids = set.intersection(*(set(r[1]) for r in runs[name]))
        return {i: statistics.median(r[1][i]["stats"]["median"] for r in runs[name]) for i in ids}

    reference = medians("-n 0")
    ref_wall = statistics.median(w for w, _ in runs["-n 0"])
    rows = []
    for name, _ in MODES:
        mode_medians = medians(name)
        shifts = [mode_medians[i] / reference[i] - 1 for i in reference if i in mode_medians]
        pairs = [
            (_verdict(m, reference[mid], gate), _verdict(ref_run[mid], reference[mid], gate))
            for (_, ms), (_, ref_run) in zip(runs[name], runs["-n 0"], strict=True)
            for mid, m in ms.items()
            if mid in reference and mid in ref_run
        ]
        failing = ("regressed",) if gate else ("regressed", "improved")
        wall = statistics.median(w for w, _ in runs[name])
        spread = [m["stats"]["iqr"] / m["stats"]["median"] for _, ms in runs[name] for m in ms.values()]
        rows.append(
            {
                "mode": name,
                "measurements": len(reference),
                "verdicts": len(pairs),
                "agreement": sum(a == b for a, b in pairs) / max(1, len(pairs)),
                "gate_agreement": sum((a in failing) == (b in failing) for a, b in pairs)
                / max(1, len(pairs)),
                "false_alarms": sum(a in failing for a, _ in pairs),
                "median_shift": statistics.median(shifts),
                "median_abs_shift": statistics.median(abs(s) for s in shifts),
                "max_abs_shift": max(abs(s) for s in shifts),
                "rel_iqr": statistics.median(spread),
                "wall": wall,
                "wall_ratio": wall / ref_wall,
            }
        )
    source = "baseline gate verdicts" if gate else "median within +-10% of -n 0"
    print(
        f"A/A, {args.reps} interleaved repetitions, max-time {args.max_time}, "
        f"verdicts: {source}, cpus {os.cpu_count()}"
    )
    header = (
        f"{'mode':12s} {'verdict=':>8s} {'gate=':>7s} {'alarms':>6s} {'shift':>7s} {'|shift|':>8s} "
        f"{'max|sh|':>8s} {'IQR/med':>8s} {'wall s':>7s} {'wall/n0':>8s}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['mode']:12s} {r['agreement']:8.1%} {r['gate_agreement']:7.1%} {r['false_alarms']:6d} "
            f"{r['median_shift']:+7.1%} {r['median_abs_shift']:8.1%} "
            f"{r['max_abs_shift']:8.1%} {r['rel_iqr']:8.1%} {r['wall']:7.1f} {r['wall_ratio']:8.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "gate": gate, "reps": args.reps}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
