"""``causal-eval compare A.json B.json``: judge run B against run A with the gate's statistics.

Exit status: 0 nothing regressed, 1 something regressed (or was inconclusive with ``--strict``),
2 a usage error (unreadable file, different machines).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare two results files (from --causal-eval-json): B against baseline A",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("baseline", type=Path, metavar="A.json", help="the baseline run")
    parser.add_argument("candidate", type=Path, metavar="B.json", help="the run to judge")
    parser.add_argument(
        "--threshold", help="regression threshold, e.g. 10%% (default: what run B recorded, else 10%%)"
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the verdicts as Markdown")
    parser.add_argument("--strict", action="store_true", help="exit 1 on inconclusive comparisons too")
    parser.add_argument(
        "--allow-different-machines",
        action="store_true",
        help="compare even when the runs' machine fingerprints differ in a hard key",
    )
    parser.set_defaults(func=run)


def load_results(path: Path) -> Any:
    from pytest_causal_eval.results import ResultsFormatError, RunResults

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"results file {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return RunResults.from_dict(data)
    except ResultsFormatError as exc:
        raise CLIError(f"results file {path}: {exc}") from None


def _fingerprint(results: Any) -> Any:
    from pytest_causal_eval.baseline.machine import Fingerprint, fingerprint_from_environment

    machine = results.extra.get("machine")
    if isinstance(machine, dict) and isinstance(machine.get("hard"), dict):
        return Fingerprint.from_dict(machine)
    return fingerprint_from_environment(results.environment)


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.gate import config_from_record, format_comparison, judge, verdict_record
    from pytest_causal_eval.baseline.machine import describe_differences, hard_differences
    from pytest_causal_eval.baseline.schema import entry_from_measurement
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
    diffs = hard_differences(_fingerprint(base), _fingerprint(cand))
    if diffs and not args.allow_different_machines:
        raise CLIError(
            f"refusing to compare runs from different machines ({describe_differences(diffs)}); "
            "pass --allow-different-machines to compare anyway"
        )
    base_by_id = {m.id: m for m in base.measurements}
    lines: list[str] = []
    for m in cand.measurements:
        old = base_by_id.get(m.id)
        entry = entry_from_measurement(old, "", "", max_samples=10**9) if old is not None else None
        config = config_from_record(m.extra.get("thresholds"), override)
        comparisons = judge(m, entry, config)
        if m.samples:
            m.extra["noise"] = noise_profile(m.samples).to_dict()
        m.extra["verdict"] = verdict_record(
            m, comparisons, str(args.baseline), has_baseline=entry is not None
        )
        for c in comparisons:
            if c.verdict in ("regressed", "inconclusive"):
                unit = m.metrics[c.metric].unit if c.metric in m.metrics else "s"
                lines.append(f"{m.id}: {c.verdict}: {format_comparison(c, unit)}")
    rows = verdict_rows(cand.measurements)
    missing = sorted(set(base_by_id) - {m.id for m in cand.measurements})
    notes = (
        [f"{len(missing)} measurement(s) of {args.baseline} are not in {args.candidate}"] if missing else []
    )
    if diffs:
        notes.append(f"runs from different machines: {describe_differences(diffs)}")
    width = shutil.get_terminal_size((100, 24)).columns
    for line in render_summary(rows, width=width):
        print(line)
    for line in lines:
        print(line)
    for note in notes:
        print(f"note: {note}")
    if args.markdown is not None:
        from pytest_causal_eval.atomicio import write_text_atomic

        try:
            write_text_atomic(args.markdown, render_markdown(rows, notes=notes))
        except OSError as exc:
            raise CLIError(f"--markdown: cannot write {args.markdown}: {exc.strerror or exc}") from None
    if any(r.verdict == "regressed" for r in rows):
        return 1
    if args.strict and any(r.verdict == "inconclusive" for r in rows):
        return 1
    return 0
