"""``causal-eval compare A.json B.json``: judge run B against run A with the gate's statistics.

A time regression B measured while other processes used --max-foreign-load of the CPUs or more
(the share its session read during the timed rounds, recorded in the results file) is
inconclusive, not regressed, as the gate judges it in the session; a baseline A measured under
that load says it may be slow.

Exit status: 0 nothing regressed, 1 something regressed (or was inconclusive with ``--strict``),
2 a usage error (unreadable file, different machines, a measurement id twice in one file), or
nothing regressed but a measurement could not be compared because a file holds a bad number for it
(named with the file and the field; the other measurements are still judged).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import description

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two results files (from --causal-eval-json): B against baseline A",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("baseline", type=Path, metavar="A.json", help="the baseline run")
    parser.add_argument("candidate", type=Path, metavar="B.json", help="the run to judge")
    parser.add_argument(
        "--threshold",
        metavar="PCT",
        help="regression threshold, e.g. 10%% (default: what run B recorded, else 10%%)",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the verdicts as Markdown to PATH"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on inconclusive comparisons too")
    parser.add_argument(
        "--max-foreign-load",
        metavar="PCT",
        help="a time regression B measured while other processes used this share of the CPUs or more "
        "(read during its timed rounds) is inconclusive, not regressed; --strict fails it (default: "
        "the --causal-eval-max-foreign-load run B recorded, else 25%%; off: judge it anyway)",
    )
    parser.add_argument(
        "--allow-different-machines",
        action="store_true",
        help="compare even when the runs' machine fingerprints differ in a hard key",
    )
    parser.set_defaults(func=run)


def load_results(path: Path) -> Any:
    """A results file, or a ``CLIError`` (exit 2) naming the file and what is wrong with it."""
    from pytest_causal_eval.results import ResultsFormatError, read_results

    try:
        return read_results(path)
    except ResultsFormatError as exc:
        raise CLIError(str(exc)) from None


def quarantine_lines(path: Path, results: Any, consequence: str) -> list[str]:
    """One line per measurement of ``results`` left out for a bad number: file, measurement, field."""
    return [
        f"results file {path}: measurement {mid!r}: {problem}; {consequence}"
        for mid, problem in sorted(results.quarantined.items())
    ]


def _fingerprint(results: Any) -> Any:
    from pytest_causal_eval.environment.fingerprint import results_machine

    return results_machine(results)[1]


def max_foreign_load(text: str | None, results: Any = None, path: Path | None = None) -> float | None:
    """The CLI's ``--max-foreign-load`` (None: off), else the limit the run of ``results`` recorded
    (its ``--causal-eval-max-foreign-load`` or ini), else 25%; a ``CLIError`` naming a bad one."""
    from pytest_causal_eval.measure.load import (
        DEFAULT_MAX_FOREIGN_LOAD,
        parse_max_foreign_load,
        recorded_limit,
    )

    if text is None:
        try:
            found, limit = recorded_limit(results.extra if results is not None else None)
        except ValueError as exc:
            raise CLIError(f"results file {path}: {exc}") from None
        return limit if found else DEFAULT_MAX_FOREIGN_LOAD
    try:
        return parse_max_foreign_load(text)
    except ValueError as exc:
        raise CLIError(f"--max-foreign-load: {exc}") from None


CLI_LOAD_FLAG = "--max-foreign-load"


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from pytest_causal_eval.baseline.gate import build_verdict, config_from_record, format_comparison, judge
    from pytest_causal_eval.baseline.load import busy_summary_line, judge_under_load
    from pytest_causal_eval.baseline.schema import measured_entry
    from pytest_causal_eval.environment.fingerprint import describe_differences, hard_differences
    from pytest_causal_eval.extra_keys import NOISE, THRESHOLDS, VERDICT
    from pytest_causal_eval.report.attention import machine_note
    from pytest_causal_eval.report.markdown import render_markdown
    from pytest_causal_eval.report.verdicts import render_summary, verdict_rows
    from pytest_causal_eval.stats.compare import parse_threshold
    from pytest_causal_eval.stats.noise import noise_profile

    override = None
    if args.threshold is not None:
        try:
            override = parse_threshold(args.threshold)
        except ValueError as exc:
            raise CLIError(f"--threshold: {exc}") from None
        if override.kind != "relative":
            raise CLIError(f"--threshold: expected a percentage such as 10%, got {args.threshold!r}")
    base = load_results(args.baseline)
    cand = load_results(args.candidate)
    limit = max_foreign_load(args.max_foreign_load, cand, args.candidate)
    diffs = hard_differences(_fingerprint(base), _fingerprint(cand))
    if diffs and not args.allow_different_machines:
        raise CLIError(
            f"refusing to compare runs from different machines ({describe_differences(diffs)}); "
            "pass --allow-different-machines to compare anyway"
        )
    base_by_id = {m.id: m for m in base.measurements}
    errors = [
        *quarantine_lines(args.baseline, base, "not used as a baseline"),
        *quarantine_lines(args.candidate, cand, "not judged"),
    ]
    lines: list[str] = []
    for m in cand.measurements:
        if m.id in base.quarantined:
            message = f"not compared: its baseline in {args.baseline} has a bad number"
            VERDICT.put(m, dataclasses.replace(build_verdict(m, [], str(args.baseline)), message=message))
            continue
        old = base_by_id.get(m.id)
        entry = measured_entry(old) if old is not None else None
        config = config_from_record(THRESHOLDS.get(m), override, limit)
        comparisons = judge_under_load(judge(m, entry, config), m.extra.get("load"), limit, CLI_LOAD_FLAG)
        if m.samples:
            NOISE.put(m, noise_profile(m.samples))
        VERDICT.put(m, build_verdict(m, comparisons, str(args.baseline), has_baseline=entry is not None))
        for c in comparisons:
            if c.verdict in ("regressed", "inconclusive"):
                unit = m.metrics[c.metric].unit if c.metric in m.metrics else "s"
                lines.append(f"{m.id}: {c.verdict}: {format_comparison(c, unit)}")
    rows = verdict_rows(cand.measurements)
    missing = sorted(set(base_by_id) - {m.id for m in cand.measurements} - set(cand.quarantined))
    notes = (
        [f"{len(missing)} measurement(s) of {args.baseline} are not in {args.candidate}"] if missing else []
    )
    if diffs:
        notes.append(f"runs from different machines: {describe_differences(diffs)}")
    health = cand.environment.get("health")
    machine = machine_note(cand.measurements, health if isinstance(health, dict) else None)
    busy = busy_summary_line(cand.measurements, args.strict, "--strict")
    width = shutil.get_terminal_size((100, 24)).columns
    if busy:  # first: these verdicts say nothing about the code
        print(busy)
    for line in render_summary(rows, width=width, machine=machine):
        print(line)
    for line in lines:
        print(line)
    for note in notes:
        print(f"note: {note}")
    for error in errors:
        print(f"causal-eval: error: {error}", file=sys.stderr)
    if args.markdown is not None:
        from pytest_causal_eval.atomicio import write_text_atomic

        try:
            write_text_atomic(args.markdown, render_markdown(rows, notes=[*errors, *notes], machine=machine))
        except OSError as exc:
            raise CLIError(f"--markdown: cannot write {args.markdown}: {exc.strerror or exc}") from None
    if any(r.verdict == "regressed" for r in rows):
        return 1
    if args.strict and any(r.verdict == "inconclusive" for r in rows):
        return 1
    return 2 if errors else 0
