"""``causal-eval report RESULTS.json -o DIR``: the HTML report of a results file (--causal-eval-json).

Exit status: 0 written; 2 a usage error (unreadable file, not a results file), or written without
the measurements that hold a bad number (each named with the file and the field).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import description

__all__ = ["register", "run_report"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render the HTML report of a results file (from --causal-eval-json)",
        description=description(__doc__),
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="a results file")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="write index.html into DIR"
    )
    parser.add_argument(
        "--baselines",
        type=Path,
        metavar="DIR",
        help="baseline directory: plot the baseline of the run's machine key beside its distributions",
    )
    parser.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="history database for the trend plots (default .causal-eval/history.sqlite when it exists)",
    )
    parser.set_defaults(func=run_report)


def _baseline(directory: Path | None, results: Any) -> tuple[dict[str, dict[str, Any]], str, list[str]]:
    if directory is None:
        return {}, "", []
    from pytest_causal_eval.baseline.store import BaselineFileError, BaselineStore
    from pytest_causal_eval.history.records import machine_key_of

    if not directory.is_dir():
        raise CLIError(f"--baselines: directory {directory} does not exist")
    key, _ = machine_key_of(results)
    try:
        loaded = BaselineStore(directory).load(key)
    except BaselineFileError as exc:
        return {}, "", [f"{exc}; distributions are shown without it"]
    if loaded is None:
        return {}, "", [f"no baseline for machine key {key} in {directory}"]
    return dict(loaded.measurements), str(loaded.path), []


def run_report(args: argparse.Namespace) -> int:
    from pytest_causal_eval.cli.compare import load_results, quarantine_lines
    from pytest_causal_eval.report.output import write_html_report

    results = load_results(args.results)
    out: Path = args.output
    if out.exists() and not out.is_dir():
        raise CLIError(f"-o: {out} exists and is not a directory")
    history: Path | None = args.history
    if history is not None and not history.is_file():
        raise CLIError(f"--history: no history database at {history}")
    if history is None and Path(".causal-eval/history.sqlite").is_file():
        history = Path(".causal-eval/history.sqlite")
    entries, baseline_file, notes = _baseline(args.baselines, results)
    recorded = results.extra.get("baseline")
    errors = [str(e) for e in recorded.get("errors") or []] if isinstance(recorded, dict) else []
    bad = quarantine_lines(args.results, results, "left out of the report")
    errors.extend(bad)
    try:
        path = write_html_report(
            results,
            out,
            baseline_entries=entries,
            baseline_file=baseline_file,
            history_path=history,
            notes=notes,
            errors=errors,
        )
    except OSError as exc:
        raise CLIError(f"-o: cannot write the report under {out}: {exc.strerror or exc}") from None
    print(f"report: {path} ({len(results.measurements)} benchmark(s))")
    for line in bad:
        print(f"causal-eval: error: {line}", file=sys.stderr)
    return 2 if bad else 0
