"""Throughput and memory of the causal evaluation engine.

Run: ``python benchmarks/engine_throughput.py [--quick]``. Prints, per task, questions generated
per second and end-to-end questions per second (generate + oracle + extract + score), then the
peak RSS of an end-to-end run at n = 1k, 10k and 100k, each measured in a fresh subprocess.
Everything runs pinned to one core where the OS allows it.

``--scale`` runs the scale section instead (both cores): end-to-end questions/s per executor
with 2 workers on a deliberately CPU-bound model (``spin``), HTTP adapter requests/s against a
local ``causal-eval serve`` at concurrency 1, 8 and 32, torch model questions/s at batch 1, 32
and 256, and the warm-cache hit path.
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


GOAL_HTTP_RPS = 500.0
GOAL_PROCESS_SPEEDUP = 1.6
GOAL_CACHE_QPS = 20000.0


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _scale(quick: bool) -> None:
    import tempfile

    from pytest_causal_eval.engine import Evaluator, LocalServer, create_executor, create_model, generate
    from pytest_causal_eval.engine.run.cache import open_cache

    reps = 3
    n = 400 if quick else 1200
    qs = generate("intervention", n, seed=1)
    spin = create_model("spin", work=2000)
    print(f"executors: spin model (CPU-bound, holds the GIL), n={n}, batch 16, 2 workers, median of {reps}")
    print(f"{'executor':<10} {'q/s':>10} {'vs serial':>10}")
    rates: dict[str, float] = {}
    for name in ("serial", "thread", "process", "async", "ray"):
        try:
            ex = create_executor(name, workers=None if name == "serial" else 2)
        except Exception as exc:  # ray missing
            print(f"{name:<10} unavailable: {exc}")
            continue
        try:
            warm = getattr(ex, "warm_up", None)
            if warm is not None:
                warm(spin)
            Evaluator(spin, batch_size=16, executor=ex).run(qs[:64])  # start workers / actors
            samples = []
            for _ in range(reps):
                start = time.perf_counter()
                Evaluator(spin, batch_size=16, executor=ex).run(qs)
                samples.append(n / (time.perf_counter() - start))
            rates[name] = _median(samples)
        finally:
            ex.close()
        print(f"{name:<10} {rates[name]:>10,.0f} {rates[name] / rates['serial']:>9.2f}x")
    speedup = rates.get("process", 0.0) / rates["serial"]
    verdict = "OK" if speedup >= GOAL_PROCESS_SPEEDUP else "MISSED"
    print(f"process vs serial: {speedup:.2f}x (goal >= {GOAL_PROCESS_SPEEDUP}x): {verdict}")
    print()

    hq = generate("association", 2000 if quick else 4000, seed=2)
    print(f"HTTP adapter vs local causal-eval serve (oracle lookup), {len(hq)} requests, median of {reps}")
    print(f"{'concurrency':>11} {'requests/s':>11}")
    best32 = 0.0
    with LocalServer("oracle", {"task": "association", "seed": 2, "n": len(hq)}) as srv:
        for conc in (1, 8, 32):
            model = create_model("openai", base_url=srv.base_url, model_name="oracle", max_concurrency=conc)
            count = len(hq) // 8 if conc == 1 else len(hq)
            prompts = [q.prompt for q in hq[:count]]
            model.generate_text(prompts[:50])  # connect
            samples = []
            for _ in range(reps):
                start = time.perf_counter()
                answers = model.generate_text(prompts)
                samples.append(len(prompts) / (time.perf_counter() - start))
            assert answers == [q.answer for q in hq[:count]]
            model.close()
            rate = _median(samples)
            best32 = rate if conc == 32 else best32
            print(f"{conc:>11} {rate:>11,.0f}")
    verdict = "OK" if best32 >= GOAL_HTTP_RPS else "MISSED"
    print(f"concurrency 32: {best32:,.0f} requests/s (goal >= {GOAL_HTTP_RPS:,.0f}): {verdict}")
    print()

    try:
        torch_model = create_model("torch", random_init=True, device="cpu")
    except Exception as exc:
        print(f"torch model unavailable: {exc}")
    else:
        tq = [q.prompt for q in generate("association", 1024 if quick else 4096, seed=3)]
        print(f"torch model (random init, CPU, fp32), {len(tq)} prompts, median of {reps}")
        print(f"{'batch':>6} {'q/s':>10}")
        for batch in (1, 32, 256):
            torch_model.batch_size = batch  # type: ignore[attr-defined]
            prompts = tq[: len(tq) // 8] if batch == 1 else tq
            samples = []
            for _ in range(reps):
                start = time.perf_counter()
                torch_model.generate_text(prompts)  # type: ignore[attr-defined]
                samples.append(len(prompts) / (time.perf_counter() - start))
            print(f"{batch:>6} {_median(samples):>10,.0f}")
        print()

    cq = generate("association", 5000 if quick else 20000, seed=4)
    oracle = create_model("oracle")
    print(f"warm cache hit path, {len(cq)} questions (evaluator end to end, batch 64), median of {reps}")
    print(f"{'cache':<16} {'q/s':>10} {'hits':>8}")
    worst = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in (("memory", "memory"), ("sqlite (cold mem)", tmp)):
            Evaluator(oracle, batch_size=64, cache=open_cache(spec)).run(cq)  # fill
            samples = []
            hits = 0
            shared = open_cache(spec)
            for _ in range(reps):
                cache = open_cache(spec) if spec != "memory" else shared  # disk: fresh memory front
                start = time.perf_counter()
                result = Evaluator(oracle, batch_size=64, cache=cache).run(cq)
                samples.append(len(cq) / (time.perf_counter() - start))
                hits = result.cache_hits if spec != "memory" else hits
            if spec == "memory":
                cache = shared
                Evaluator(oracle, batch_size=64, cache=cache).run(cq)
                hits = len(cq)
            rate = _median(samples)
            worst = min(worst, rate)
            print(f"{label:<16} {rate:>10,.0f} {hits:>8}")
    verdict = "OK" if worst >= GOAL_CACHE_QPS else "MISSED"
    print(f"slowest warm cache: {worst:,.0f} q/s (goal >= {GOAL_CACHE_QPS:,.0f}): {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller n (smoke test)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scale", action="store_true", help="executors, HTTP, torch and cache section")
    args = parser.parse_args(argv)
    if args.scale:
        _scale(args.quick)
        return 0
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
