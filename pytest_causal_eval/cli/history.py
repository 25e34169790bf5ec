"""``causal-eval history``: benchmark trends from the run history, with the commits where they stepped.

A step (change point) needs at least 4 runs of a benchmark on one machine: two on each side. A step
whose run was measured with uncommitted changes names its commit as ``3f2a9c1b+dirty``; one measured
while the machine was noisy (load, busy processes: stored with each run) is marked as maybe load, not
code. With fewer than 4 runs the values are listed, without a sparkline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import deprecated_alias, description

__all__ = ["register", "run_history"]

DEFAULT_DB = Path(".causal-eval/history.sqlite")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history",
        help="show benchmark trends from the run history (sparklines, last values, steps)",
        description=description(__doc__),
    )
    parser.add_argument(
        "--benchmark",
        metavar="PATTERN",
        help="only benchmarks whose id matches: a glob (*test_eval*[gpu-*]) or a substring",
    )
    history = parser.add_argument(
        "--history",
        type=Path,
        default=DEFAULT_DB,
        metavar="PATH",
        help=f"history database (default {DEFAULT_DB})",
    )
    deprecated_alias(parser, "--db", history)
    parser.add_argument(
        "--limit",
        type=_positive,
        default=30,
        metavar="N",
        help="last N runs per benchmark (default 30)",
    )
    parser.add_argument("--machine", metavar="KEY", help="only this machine key (default: all)")
    parser.set_defaults(func=run_history)


def run_history(args: argparse.Namespace) -> int:
    from pytest_causal_eval.history.store import HistoryError, HistoryStore
    from pytest_causal_eval.history.trends import render_trends
    from pytest_causal_eval.report.units import format_seconds

    path: Path = args.history
    if not path.is_file():
        raise CLIError(
            f"--history: no history database at {path} (pytest --causal-eval writes one; "
            "--causal-eval-history chooses where)"
        )
    store = HistoryStore(path)
    try:
        runs = store.run_count(args.machine)
        series = store.series(pattern=args.benchmark, machine_key=args.machine, limit=args.limit)
    except HistoryError as exc:
        raise CLIError(str(exc)) from None
    where = f" on machine {args.machine}" if args.machine else ""
    print(f"history: {path}: {runs} run(s){where}")
    if not series:
        what = f" matching {args.benchmark!r}" if args.benchmark else ""
        print(f"no benchmarks{what} with timings in the history")
        return 0
    for line in render_trends(series, format_seconds):
        print(line)
    return 0
