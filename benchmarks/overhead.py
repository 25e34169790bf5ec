"""Measuring overhead: what causal_bench reports vs a raw perf_counter_ns loop vs pytest-benchmark.

For an empty function and workloads of about 1 us, 100 us and 10 ms, each tool measures the same
function in its own fresh process; the three are interleaved over several repetitions and the
median of the per-repetition medians is reported, with ratios to the raw loop.

Second part: the cost of having the plugin installed but off, on ``pytest --co -q`` over a
generated suite of 500 tests, against ``-p no:causal_eval`` (alternating runs, medians).

Usage: python benchmarks/overhead.py [--reps 5] [--collect-runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WORKLOADS = textwrap.dedent(
    """
    import time

    def _spin(ns):
        end = time.perf_counter_ns() + ns
        while time.perf_counter_ns() < end:
            pass

    def empty():
        pass

    def work_1us():
        _spin(1_000)

    def work_100us():
        _spin(100_000)

    def work_10ms():
        _spin(10_000_000)

    WORKLOADS = {"empty": empty, "1us": work_1us, "100us": work_100us, "10ms": work_10ms}
    """
)

CAUSAL_TEST = """
import pytest
from workloads import WORKLOADS

@pytest.mark.parametrize("name", list(WORKLOADS))
def test_w(causal_bench, name):
    causal_bench(WORKLOADS[name])
"""

PYTEST_BENCHMARK_TEST = """
import pytest
from workloads import WORKLOADS

@pytest.mark.parametrize("name", list(WORKLOADS))
def test_w(benchmark, name):
    benchmark(WORKLOADS[name])
"""

RAW_SCRIPT = """
import json, time
from workloads import WORKLOADS


def measure(fn):
    # Same budget as the tools: rounds of >= 1 ms for about 1 s; fn is a local, as in both tools.
    n = 1
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        if time.perf_counter_ns() - t0 >= 1_000_000:
            break
        n *= 2
    samples = []
    start = time.perf_counter_ns()
    while len(samples) < 5 or time.perf_counter_ns() - start < 1_000_000_000:
        r = range(n)
        t0 = time.perf_counter_ns()
        for _ in r:
            fn()
        samples.append((time.perf_counter_ns() - t0) / n / 1e9)
    samples.sort()
    return samples[len(samples) // 2]


print(json.dumps({name: measure(fn) for name, fn in WORKLOADS.items()}))
"""


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def causal_eval_medians(work: Path) -> dict[str, float]:
    out = work / "ce.json"
    run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:benchmark",
            "test_ce.py",
            "--causal-eval",
            "--causal-eval-max-time=1s",
            "--causal-eval-min-time=1ms",  # the raw loop's and pytest-benchmark's rounds here
            "--causal-eval-json",
            str(out),
        ],
        work,
    )
    data = json.loads(out.read_text())
    return {m["params"]["name"]: m["stats"]["median"] for m in data["measurements"]}


def pytest_benchmark_medians(work: Path) -> dict[str, float]:
    out = work / "pb.json"
    run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:causal_eval",
            "test_pb.py",
            "--benchmark-max-time=1",
            "--benchmark-min-time=0.001",
            f"--benchmark-json={out}",
        ],
        work,
    )
    data = json.loads(out.read_text())
    return {b["params"]["name"]: b["stats"]["median"] for b in data["benchmarks"]}


def raw_medians(work: Path) -> dict[str, float]:
    proc = run([sys.executable, "raw.py"], work)
    return {k: float(v) for k, v in json.loads(proc.stdout).items()}


def collect_cost(work: Path, runs: int) -> tuple[float, float]:
    suite = work / "collect"
    suite.mkdir()
    for i in range(10):
        (suite / f"test_mod{i}.py").write_text(
            "import pytest\n\n"
            + "\n".join(
                f"@pytest.mark.parametrize('x', range(10))\ndef test_{j}(x):\n    pass\n" for j in range(5)
            )
        )
    on: list[float] = []
    off: list[float] = []
    for i in range(runs):
        for label, extra in (
            (("on", []), ("off", ["-p", "no:causal_eval"]))
            if i % 2 == 0
            else (("off", ["-p", "no:causal_eval"]), ("on", []))
        ):
            t0 = time.perf_counter()
            run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "--co",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:benchmark",
                    *extra,
                ],
                suite,
            )
            (on if label == "on" else off).append(time.perf_counter() - t0)
    return statistics.median(on), statistics.median(off)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--collect-runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "workloads.py").write_text(WORKLOADS)
        (work / "test_ce.py").write_text(CAUSAL_TEST)
        (work / "test_pb.py").write_text(PYTEST_BENCHMARK_TEST)
        (work / "raw.py").write_text(RAW_SCRIPT)
        per_tool: dict[str, list[dict[str, float]]] = {"raw": [], "causal_bench": [], "pytest-benchmark": []}
        for rep in range(args.reps):
            order = [
                ("raw", raw_medians),
                ("causal_bench", causal_eval_medians),
                ("pytest-benchmark", pytest_benchmark_medians),
            ]
            if rep % 2:
                order.reverse()
            for name, fn in order:
                per_tool[name].append(fn(work))
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
        names = ["empty", "1us", "100us", "10ms"]
        med = {
            tool: {n: statistics.median(r[n] for r in runs) for n in names} for tool, runs in per_tool.items()
        }
        print(f"Per-call medians ({args.reps} interleaved repetitions, median of medians):\n")
        print("| workload | raw loop | causal_bench | ratio to raw | pytest-benchmark | ratio to raw |")
        print("|---|---:|---:|---:|---:|---:|")
        for n in names:
            raw = med["raw"][n]
            ce = med["causal_bench"][n]
            pb = med["pytest-benchmark"][n]
            print(
                f"| {n} | {raw * 1e9:,.1f} ns | {ce * 1e9:,.1f} ns | {ce / raw:.3f} | {pb * 1e9:,.1f} ns | "
                f"{pb / raw:.3f} |"
            )
        on, off = collect_cost(work, args.collect_runs)
        print(f"\n`pytest --co -q` over 500 tests, median of {args.collect_runs} alternating runs:")
        print(
            f"plugin installed but off: {on * 1e3:.1f} ms; -p no:causal_eval: {off * 1e3:.1f} ms; "
            f"difference {(on - off) * 1e3:+.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
