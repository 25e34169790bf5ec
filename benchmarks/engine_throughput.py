"""Throughput and memory of the causal evaluation engine.

Run: ``python benchmarks/engine_throughput.py [--quick]``. Prints, per task, questions generated
per second and end-to-end questions per second (generate + oracle + extract + score), then the
peak RSS of an end-to-end run at n = 1k, 10k and 100k, each measured in a fresh subprocess.
Everything runs pinned to one core where the OS allows it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from itertools import islice

GOAL_QPS = 5000.0
GOAL_RSS_GROWTH_MB = 50.0


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})


def _generation_rate(task: str, n: int) -> float:
    from pytest_causal_eval.engine import create_task

    stream = create_task(task).questions(seed=1)
    start = time.perf_counter()
    for _ in islice(stream, n):
        pass
    return n / (time.perf_counter() - start)


def _end_to_end_rate(task: str, n: int) -> tuple[float, float]:
    from pytest_causal_eval.engine import Evaluator, create_model, create_task

    evaluator = Evaluator(create_model("oracle"), batch_size=64)
    start = time.perf_counter()
    result = evaluator.run(create_task(task).questions(seed=2), n=n)
    return n / (time.perf_counter() - start), result.accuracy


def _mixed_questions(seed: int):  # type: ignore[no-untyped-def]
    """Round-robin over every task, so memory covers all of them."""
    from pytest_causal_eval.engine import create_task, task_names

    streams = [create_task(name).questions(seed) for name in task_names()]
    while True:
        for stream in streams:
            yield next(stream)


def _child(n: int) -> None:
    _pin_one_core()
    from pytest_causal_eval.engine import Evaluator, create_model

    start = time.perf_counter()
    result = Evaluator(create_model("oracle"), batch_size=64).run(_mixed_questions(0), n=n)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 if sys.platform != "darwin" else 1  # Linux reports KiB, macOS bytes
    print(
        json.dumps(
            {"n": n, "peak_rss_mb": peak_kb * scale / 2**20, "qps": n / elapsed, "acc": result.accuracy}
        )
    )


def _measure_rss(n: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller n (smoke test)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child)
        return 0
    _pin_one_core()
    from pytest_causal_eval.engine import task_names

    n = 2000 if args.quick else 20000
    print(f"engine throughput, one core, n={n} per task (oracle model, batch size 64)")
    print(f"{'task':<20} {'generated q/s':>14} {'end-to-end q/s':>15} {'accuracy':>9}")
    worst = float("inf")
    for task in task_names():
        gen = _generation_rate(task, n)
        e2e, acc = _end_to_end_rate(task, n)
        worst = min(worst, e2e)
        print(f"{task:<20} {gen:>14,.0f} {e2e:>15,.0f} {acc:>9.3f}")
    ok = "OK" if worst >= GOAL_QPS else "MISSED"
    print(f"slowest end-to-end: {worst:,.0f} q/s (goal >= {GOAL_QPS:,.0f}): {ok}")
    print()
    sizes = [1000, 10000] if args.quick else [1000, 10000, 100000]
    print("peak RSS, end-to-end over all tasks (fresh subprocess each)")
    print(f"{'n':>8} {'peak RSS MB':>12} {'q/s':>10}")
    rows = [_measure_rss(size) for size in sizes]
    for row in rows:
        print(f"{int(row['n']):>8} {row['peak_rss_mb']:>12.1f} {row['qps']:>10,.0f}")
    growth = rows[-1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
    verdict = "OK" if growth <= GOAL_RSS_GROWTH_MB else "MISSED"
    print(
        f"growth {int(rows[0]['n'])} -> {int(rows[-1]['n'])}: {growth:+.1f} MB "
        f"(goal <= {GOAL_RSS_GROWTH_MB:.0f} MB): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
