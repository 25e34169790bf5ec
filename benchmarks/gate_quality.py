"""How good is the regression gate on this machine? False alarms, misses, and measuring time.

Each trial measures a CPU workload in one process (the baseline) and the same workload with an
injected slowdown in another process (the candidate), as a base-vs-PR job does. The candidate
process judges itself with the gate exactly as the plugin does (default settings: 10% threshold,
default measuring time, up to 2 extra passes when undecided). The same first-pass samples are also
judged with pytest-benchmark's ``--benchmark-compare-fail=median:10%`` rule (median change > 10%).

    python benchmarks/gate_quality.py            # 30 trials per slowdown (about 7-9 minutes)
    python benchmarks/gate_quality.py --quick    # 6 trials per slowdown, a smoke run
    python benchmarks/gate_quality.py --trials 50 --json out.json

Goals: false alarms at 0% <= 1%; +5% flagged <= 5%; +15% detected >= 80%; +25% detected >= 95%;
default measuring time <= 3 s per benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LEVELS = (0.0, 0.05, 0.15, 0.25, 0.50)
BASE_WORK = 4000
GOALS = {
    0.0: ("false alarms", "<= 1%", lambda r: r <= 0.01),
    0.05: ("flagged", "<= 5%", lambda r: r <= 0.05),
    0.15: ("detected", ">= 80%", lambda r: r >= 0.80),
    0.25: ("detected", ">= 95%", lambda r: r >= 0.95),
    0.50: ("detected", ">= 95%", lambda r: r >= 0.95),
}


def work(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _measure(n: int, warmup: bool = True) -> tuple[list[float], float]:
    """The plugin's default settings; extra passes skip the warm-up, as the plugin's re-measuring does."""
    from pytest_causal_eval.measure.runner import Runner, RunnerConfig
    from pytest_causal_eval.measure.timer import PerfCounterTimer

    started = time.perf_counter()
    config = RunnerConfig() if warmup else RunnerConfig(warmup=0.0)
    outcome = Runner(config, PerfCounterTimer()).run(lambda: work(n))
    return outcome.per_iteration_seconds(), time.perf_counter() - started


def worker_baseline(n: int, out: Path) -> None:
    samples, seconds = _measure(n)
    out.write_text(json.dumps({"samples": samples, "seconds": seconds}))


def worker_candidate(n: int, baseline_path: Path, out: Path, extra_passes: int) -> None:
    from pytest_causal_eval.baseline.gate import GateConfig, judge, verdict_record
    from pytest_causal_eval.baseline.schema import entry_from_measurement
    from pytest_causal_eval.results import Measurement

    base = json.loads(baseline_path.read_text())
    entry = entry_from_measurement(Measurement(id="bench", test_id="bench", samples=base["samples"]), "", "")
    samples, seconds = _measure(n)
    first = list(samples)
    m = Measurement(id="bench", test_id="bench", samples=samples)
    config = GateConfig()
    comparisons = judge(m, entry, config)
    passes = 0
    while passes < extra_passes and any(c.verdict == "inconclusive" for c in comparisons):
        more, more_seconds = _measure(n, warmup=False)
        m.samples = [*m.samples, *more]
        seconds += more_seconds
        passes += 1
        comparisons = judge(m, entry, config)
    record = verdict_record(m, comparisons, None)
    pb_change = statistics.median(first) / statistics.median(base["samples"]) - 1.0
    out.write_text(
        json.dumps(
            {
                "verdict": record["verdict"],
                "change": record["change"],
                "ci_low": record["ci_low"],
                "ci_high": record["ci_high"],
                "first_pass_change": pb_change,
                "pytest_benchmark_fails": pb_change > 0.10,
                "seconds": seconds,
                "passes": passes,
            }
        )
    )


def _run(args: list[str]) -> None:
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([sys.executable, __file__, *args], check=True, env=env)


def run_trials(trials: int, levels: tuple[float, ...]) -> dict[float, list[dict[str, Any]]]:
    results: dict[float, list[dict[str, Any]]] = {level: [] for level in levels}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for trial in range(trials):
            for level in levels:  # interleaved, so machine drift touches every level alike
                base_out, cand_out = tmpdir / "base.json", tmpdir / "cand.json"
                _run(["--worker", "baseline", "--work", str(BASE_WORK), "--out", str(base_out)])
                n = round(BASE_WORK * (1.0 + level))
                cand_args = ["--worker", "candidate", "--work", str(n), "--out", str(cand_out)]
                _run([*cand_args, "--baseline", str(base_out)])
                results[level].append(json.loads(cand_out.read_text()))
            elapsed = time.perf_counter() - started
            print(f"trial {trial + 1}/{trials} done ({elapsed:.0f}s)", file=sys.stderr, flush=True)
    return results


def render(results: dict[float, list[dict[str, Any]]]) -> list[str]:
    header = (
        "| slowdown | trials | pass | regressed | inconclusive | improved | gate flags | "
        "pytest-benchmark median:10% flags | median measured change | goal | met |"
    )
    lines = [header, "|" + "---|" * 11]
    for level, rows in results.items():
        n = len(rows)
        counts = {
            v: sum(1 for r in rows if r["verdict"] == v)
            for v in ("pass", "regressed", "inconclusive", "improved")
        }
        flagged = counts["regressed"] / n if n else 0.0
        pb = sum(1 for r in rows if r["pytest_benchmark_fails"]) / n if n else 0.0
        med = statistics.median(r["first_pass_change"] for r in rows) if rows else 0.0
        what, goal, ok = GOALS.get(level, ("", "", lambda r: True))
        lines.append(
            f"| +{level:.0%} | {n} | {counts['pass']} | {counts['regressed']} | {counts['inconclusive']} | "
            f"{counts['improved']} | {flagged:.1%} | {pb:.1%} | {med:+.1%} | {what} {goal} | "
            f"{'yes' if ok(flagged) else 'NO'} |"
        )
    seconds = [r["seconds"] for rows in results.values() for r in rows]
    passes = [r["passes"] for rows in results.values() for r in rows]
    if seconds:
        seconds.sort()
        p95 = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
        lines.append("")
        lines.append(
            "measuring time per benchmark (candidate, incl. re-measuring): "
            f"median {statistics.median(seconds):.2f} s, "
            f"p95 {p95:.2f} s, max {seconds[-1]:.2f} s; re-measured in {sum(1 for p in passes if p)} of "
            f"{len(passes)} comparisons"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=30, help="trials per slowdown (default 30)")
    parser.add_argument("--quick", action="store_true", help="6 trials per slowdown")
    parser.add_argument("--json", type=Path, help="also write the raw per-trial results here")
    parser.add_argument(
        "--levels",
        default=",".join(f"{level * 100:g}" for level in LEVELS),
        help="slowdowns in percent, comma-separated (default 0,5,15,25,50)",
    )
    parser.add_argument("--worker", choices=("baseline", "candidate"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=int, default=BASE_WORK, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--extra-passes", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "baseline":
        worker_baseline(args.work, args.out)
        return 0
    if args.worker == "candidate":
        worker_candidate(args.work, args.baseline, args.out, args.extra_passes)
        return 0
    trials = 6 if args.quick else args.trials
    if trials < 1:
        parser.error("--trials must be at least 1")
    started = time.perf_counter()
    try:
        levels = tuple(float(x) / 100.0 for x in args.levels.split(",") if x.strip())
    except ValueError:
        parser.error(f"--levels: expected comma-separated percentages such as 0,5,15, got {args.levels!r}")
    if not levels:
        parser.error("--levels: give at least one slowdown")
    results = run_trials(trials, levels)
    lines = render(results)
    lines.append(f"total runtime {time.perf_counter() - started:.0f} s, {trials} trials per slowdown")
    print("\n".join(lines))
    if args.json is not None:
        args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
