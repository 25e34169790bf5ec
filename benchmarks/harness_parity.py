"""Do our rounds read what pytest-benchmark's read, for the same code, side by side in one process?

``port_parity.py`` runs each harness in its own pytest process, seconds apart; on a shared machine
whose speed changes by a factor within a fraction of a second, a turn whose two runs fell on
different sides reads about 1.7 or 0.6 whatever the harnesses do. This script takes the process
boundary and the seconds out: pytest-benchmark's own fixture object (``BenchmarkFixture``) and our
runner time the workloads of ``benchmarks/port_parity_suite`` with that suite's settings
(min rounds, warm-up on, ``disable_gc`` for ``top``, pedantic with setup for ``from_json``), in
one process, in rotating order, ``--turns`` times. Reported per workload: each harness's median
(the median over turns), the ratio ours / pytest-benchmark's (the median of the per-turn ratios),
the calls per round each chose; the geometric mean of the ratios, and how many are within 3%.

    python benchmarks/harness_parity.py                      # 1 s budget, 5 turns (about 8 minutes)
    python benchmarks/harness_parity.py --max-time 0.1 --turns 15
    python benchmarks/harness_parity.py --runner OLD/pytest_causal_eval/measure/runner.py

``--max-time`` below 1 s keeps our rounds as long as a 1 s run makes them (a 10,000th of the
budget: 100 us), so that a quicker pass compares the rounds a default run times. ``--runner``
also times the runner module at that path (another checkout's, e.g. before a change) as a third
side, with the same settings.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import inspect
import math
import statistics
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_benchmark import fixture as their_fixture
from pytest_benchmark import timers as their_timers

import pytest_causal_eval.measure.runner as our_runner
from pytest_causal_eval.measure.timer import PerfCounterTimer

SUITE = Path(__file__).resolve().parent / "port_parity_suite"
sys.path.insert(0, str(SUITE))
import textkit  # type: ignore[import-not-found]  # noqa: E402  (the suite's library)

# The suite's text fixture (conftest.py): TEXT once ("short") or eight times ("long").
TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity. "
) * 40
BUDGET_ROUNDS_1S = our_runner.BUDGET_ROUNDS


@dataclass
class Workload:
    """One benchmark of the suite, with its marker's settings."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    min_rounds: int = 10  # the suite's addopts: --benchmark-min-rounds=10
    disable_gc: bool = False
    setup: Callable[[], Any] | None = None  # pedantic(rounds=50, warmup_rounds=5)
    warmup_iterations: int = 100_000  # pytest-benchmark's default; the suite's marker may lower it


def workloads() -> dict[str, Workload]:
    out: dict[str, Workload] = {}
    for param, times in (("short", 1), ("long", 8)):
        text = TEXT * times
        counts = textkit.frequencies(text)
        encoded = textkit.to_json(counts)
        chunks = [text[i : i + 500] for i in range(0, len(text), 500)]

        def setup(encoded: str = encoded) -> tuple[tuple[str], dict[str, Any]]:
            return (encoded,), {}

        def frequencies_async(chunks: list[str] = chunks) -> Any:
            return asyncio.run(textkit.frequencies_async(chunks))

        out[f"words[{param}]"] = Workload(textkit.words, (text,))
        out[f"frequencies[{param}]"] = Workload(textkit.frequencies, (text,), min_rounds=20)
        out[f"top[{param}]"] = Workload(textkit.top, (counts, 5), disable_gc=True)
        out[f"to_json[{param}]"] = Workload(textkit.to_json, (counts,))
        out[f"from_json_pedantic[{param}]"] = Workload(textkit.from_json, setup=setup, warmup_iterations=100)
        out[f"wrap[{param}]"] = Workload(textkit.wrap, (text,), {"width": 72})
        out[f"wrap_stats[{param}]"] = Workload(textkit.wrap, (text, 40))
        out[f"frequencies_async[{param}]"] = Workload(frequencies_async)
    return out


class _Node:
    name = "harness_parity"
    nodeid = "harness_parity"


class _QuietLogger:
    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass

    info = warning = debug


def theirs(w: Workload, max_time: float) -> tuple[float, int]:
    """pytest-benchmark's fixture as its plugin builds it for this suite; (median s, calls per round)."""
    options: dict[str, Any] = {
        "node": _Node(),
        "disable_gc": w.disable_gc,
        "timer": types.SimpleNamespace(target=their_timers.default_timer),  # type: ignore[attr-defined]
        "min_rounds": w.min_rounds,
        "min_time": 0.000005,
        "max_time": max_time,
        "precision": None,
        "confidence": None,
        "warmup": True,
        "warmup_iterations": w.warmup_iterations,
        "calibration_precision": 10,
        "add_stats": lambda stats: None,
        "logger": _QuietLogger(),
        "warner": None,
        "disabled": False,
        "cprofile": False,
        "cprofile_loops": None,
        "cprofile_dump": None,
    }
    make: Any = their_fixture.BenchmarkFixture
    accepted = inspect.signature(make).parameters  # the keywords its version takes
    fixture: Any = make(**{k: v for k, v in options.items() if k in accepted})
    if w.setup is not None:
        fixture.pedantic(w.fn, setup=w.setup, rounds=50, warmup_rounds=5)
    else:
        fixture(w.fn, *w.args, **w.kwargs)
    return float(fixture.stats.stats.median), int(fixture.stats.iterations)


def ours(module: Any, w: Workload, max_time: float) -> tuple[float, int]:
    """Our runner as ``causal_bench`` drives it for the ported suite; (median s, calls per round)."""
    module.BUDGET_ROUNDS = max(1, round(BUDGET_ROUNDS_1S * min(1.0, max_time)))
    config = module.RunnerConfig(
        min_rounds=w.min_rounds, max_time=max_time, warmup=None, gc="disabled" if w.disable_gc else "enabled"
    )
    runner = module.Runner(config, PerfCounterTimer())
    if w.setup is not None:
        outcome = runner.run_pedantic(w.fn, (), {}, w.setup, 50, 1, 5)
    else:
        call = functools.partial(w.fn, *w.args, **w.kwargs) if (w.args or w.kwargs) else w.fn
        outcome = runner.run(call)
    return statistics.median(outcome.per_iteration_seconds()), int(outcome.iterations)


def load_runner(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("other_runner", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--runner {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules["other_runner"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-time", type=float, default=1.0, help="each harness's time budget (s)")
    parser.add_argument("--runner", type=Path, help="also time the runner module at this path")
    parser.add_argument("--only", nargs="*", help="these workloads (e.g. 'top[short]')")
    args = parser.parse_args(argv)

    every = workloads()
    names = args.only or list(every)
    sides: dict[str, Any] = {"ours": our_runner}
    if args.runner is not None:
        sides["other"] = load_runner(args.runner)
    order = ["theirs", *sides]
    medians: dict[str, dict[str, list[float]]] = {n: {s: [] for s in order} for n in names}
    calls: dict[str, dict[str, int]] = {n: {} for n in names}
    for turn in range(args.turns):
        for index, name in enumerate(names):
            shift = (turn + index) % len(order)
            for side in order[shift:] + order[:shift]:
                if side == "theirs":
                    median, per_round = theirs(every[name], args.max_time)
                else:
                    median, per_round = ours(sides[side], every[name], args.max_time)
                medians[name][side].append(median)
                calls[name][side] = per_round
        print(f"turn {turn + 1}/{args.turns} done", flush=True)

    print()
    others = [s for s in order if s != "theirs"]
    head = " | ".join(f"{s} median | {s} / pytest-benchmark" for s in others)
    print(f"| workload | pytest-benchmark median | {head} | calls per round ({', '.join(order)}) |")
    print("|---|---:|" + "---:|---:|" * len(others) + "---|")
    ratios: dict[str, list[float]] = {s: [] for s in others}
    for name in names:
        m = medians[name]
        cells = []
        for side in others:
            ratio = statistics.median(a / b for a, b in zip(m[side], m["theirs"], strict=True))
            ratios[side].append(ratio)
            cells.append(f"{statistics.median(m[side]) * 1e6:.2f} µs | {ratio:.3f}")
        chosen = ", ".join(str(calls[name][s]) for s in order)
        print(f"| {name} | {statistics.median(m['theirs']) * 1e6:.2f} µs | {' | '.join(cells)} | {chosen} |")
    print()
    for side in others:
        values = ratios[side]
        geomean = math.exp(statistics.fmean(math.log(r) for r in values))
        within = sum(abs(r - 1) <= 0.03 for r in values)
        print(
            f"{side}: geometric mean of the ratios {geomean:.3f}, {within} of {len(values)} within 3% "
            f"(from {min(values):.3f} to {max(values):.3f}); {args.turns} turns, budget {args.max_time:g} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
