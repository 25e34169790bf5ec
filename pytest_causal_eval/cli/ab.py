"""``causal-eval ab --base REF --head REF -- PYTEST_ARGS``: A/B two revisions on this machine.

Both revisions are checked out into temporary git worktrees and their suites run alternately in
fresh processes (A B B A for the default 2 rounds), so the runner's drift between jobs cancels
out. Each side's rounds are pooled per measurement and the head is judged against the base with
the gate's statistics; while a time comparison is inconclusive, up to --extra-rounds more A B
pairs are run for those tests alone (as the gate re-measures), and a regression must show again in
one more run that pairs with the other side's last run (ABBAB) before it fails the command. The
measuring time per measurement per side (``--budget``, else the ``--causal-eval-max-time`` among
the pytest arguments, else 1s) is split over the rounds, so each side costs about one normal run.

With --mode instructions each side runs once (A B) with --causal-eval-mode=instructions: the
measured calls are counted by valgrind's callgrind, which the machine's load cannot change, and the
head's counts are judged against the base's as the gate judges them (threshold plus a fixed
reproducibility floor; never inconclusive). No rounds, budget or extra rounds: counts need none.
valgrind must be installed (Debian/Ubuntu: apt-get install valgrind).

A time regression measured while other processes used --max-foreign-load of the CPUs or more
during the head's timed rounds (each head run reads it; pooled over the runs) is inconclusive, not
regressed, as the gate judges it in a session; --strict fails it. The limit defaults to the
--causal-eval-max-foreign-load the head's runs recorded (from PYTEST_ARGS or the project's ini),
else 25%. The base's load is reported beside it (a base measured under load is slow: it can hide
a regression, not invent one).

Failing tests are named, for base and head, with the first line of each failure; a measurement a
run wrote with a bad number is named with its field and pooled over the side's other runs.

Exit status: 0 nothing regressed; 1 something regressed (or, with --strict, was inconclusive), or
the head could not be measured, or its tests fail, or it wrote a measurement with a bad number in
every run; 2 a usage error (unknown ref, not a repository, a worktree that cannot be made, no tests
collected).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError, writable_output
from pytest_causal_eval.cli._args import deprecated_alias, description

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ab",
        help="A/B two git revisions on this machine: alternate their suites, judge head against base",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="causal-eval ab --base REF [--head REF] [options] -- PYTEST_ARGS",
    )
    parser.add_argument("--base", required=True, metavar="REF", help="the revision to compare against")
    parser.add_argument("--head", default="HEAD", metavar="REF", help="the revision to judge (default HEAD)")
    parser.add_argument(
        "--mode",
        default=None,
        metavar="MODE",
        help="what is compared: time (alternating rounds, default) or instructions (callgrind counts, "
        "one run per side; needs valgrind); --causal-eval-mode among PYTEST_ARGS sets it too",
    )
    parser.add_argument(
        "--rounds",
        default=None,
        metavar="N",
        help="rounds of one run per side, alternating (default 2: ABBA; 1 in instruction mode)",
    )
    parser.add_argument(
        "--repo", type=Path, default=Path("."), metavar="DIR", help="the git repository (default .)"
    )
    output = parser.add_argument(
        "-o", "--output", metavar="PATH", help="write the pooled results and verdicts (JSON) to PATH"
    )
    deprecated_alias(parser, "--json", output, shown="--json PATH")
    parser.add_argument("--markdown", metavar="PATH", help="write the verdicts as Markdown to PATH")
    parser.add_argument(
        "--threshold", metavar="PCT", help="regression threshold, e.g. 10%% (default: the suite's, else 10%%)"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        metavar="PYTHON",
        help="interpreter running pytest (default: this one)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where the temporary worktrees go (default: the system's temporary directory); e.g. the "
        "repository's parent, when suites read files next to the repository by relative path",
    )
    parser.add_argument(
        "--budget",
        metavar="DURATION",
        help="measuring time per measurement per side, split over the rounds (default: "
        "--causal-eval-max-time among PYTEST_ARGS, else 1s)",
    )
    parser.add_argument(
        "--extra-rounds",
        default=None,
        metavar="N",
        help="extra rounds (0-5) for the undecided tests alone: an A B pair while a time comparison "
        "is inconclusive, one more run to confirm a regression (default 2, as the gate's re-measuring; "
        "0: plain ABBA; none in instruction mode)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on inconclusive comparisons too")
    parser.add_argument(
        "--max-foreign-load",
        metavar="PCT",
        help="a time regression measured while other processes used this share of the CPUs or more "
        "during the head's timed rounds is inconclusive, not regressed; --strict fails it (default: "
        "what the head's runs recorded, from --causal-eval-max-foreign-load among PYTEST_ARGS or the "
        "ini, else 25%%; off: judge it anyway)",
    )
    parser.add_argument(
        "pytest_args", nargs="*", metavar="PYTEST_ARGS", help="arguments for pytest (after --)"
    )
    parser.set_defaults(func=run)


def _plan(args: argparse.Namespace) -> Any:
    from pytest_causal_eval.ab.orchestrate import ABPlan
    from pytest_causal_eval.ab.runner import (
        DEFAULT_BUDGET,
        HEALTH_FLAG,
        LOAD_FLAG,
        MAX_TIME_FLAG,
        MODE_FLAG,
        split_flag,
    )
    from pytest_causal_eval.cli.compare import max_foreign_load
    from pytest_causal_eval.environment.settings import parse_health_sample
    from pytest_causal_eval.measure.load import parse_max_foreign_load
    from pytest_causal_eval.options import parse_duration, parse_positive_int
    from pytest_causal_eval.stats.compare import parse_threshold

    pytest_args = [a for a in args.pytest_args]
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    pytest_args, mode_in_args = split_flag(pytest_args, MODE_FLAG)
    mode = _mode(args.mode, mode_in_args)
    counting = mode == "instructions"
    for flag, given in (
        ("--rounds", args.rounds),
        ("--extra-rounds", args.extra_rounds),
        ("--budget", args.budget),
    ):
        if counting and given is not None:
            raise CLIError(
                f"{flag} does not apply to --mode instructions: instruction counts are deterministic, "
                "so each side runs once"
            )
    if counting:
        _check_valgrind()
    try:
        rounds = 1 if counting else parse_positive_int(args.rounds or "2")
    except ValueError as exc:
        raise CLIError(f"--rounds: {exc}") from None
    extra = "0" if counting else (args.extra_rounds or "2").strip()
    if not extra.isdigit() or not 0 <= int(extra) <= 5:
        raise CLIError(f"--extra-rounds: expected a number of rounds from 0 to 5, got {args.extra_rounds!r}")
    threshold = None
    if args.threshold is not None:
        try:
            threshold = parse_threshold(args.threshold)
        except ValueError as exc:
            raise CLIError(f"--threshold: {exc}") from None
        if threshold.kind != "relative":
            raise CLIError(f"--threshold: expected a percentage such as 10%, got {args.threshold!r}")
    pytest_args, in_args = split_flag(pytest_args, MAX_TIME_FLAG)
    pytest_args, health_text = split_flag(pytest_args, HEALTH_FLAG)
    _, load_in_args = split_flag(pytest_args, LOAD_FLAG)  # the runs get it and record it
    if load_in_args is not None:
        try:
            parse_max_foreign_load(load_in_args)
        except ValueError as exc:
            raise CLIError(f"{LOAD_FLAG}: {exc}") from None
    load_limit = max_foreign_load(args.max_foreign_load)
    health_sample = 0.2
    if health_text is not None:
        try:
            health_sample = parse_health_sample(health_text)
        except ValueError as exc:
            raise CLIError(f"{HEALTH_FLAG}: {exc}") from None
    budget = DEFAULT_BUDGET
    for flag, text in ((MAX_TIME_FLAG, in_args), ("--budget", args.budget)):
        if text is not None:
            try:
                budget = parse_duration(text)
            except ValueError as exc:
                raise CLIError(f"{flag}: {exc}") from None
    python = args.python
    if os.sep in python and not Path(python).exists():
        raise CLIError(f"--python: {python} does not exist")
    if os.sep not in python and shutil.which(python) is None:
        raise CLIError(f"--python: {python} is not on PATH")
    return ABPlan(
        base_ref=args.base,
        head_ref=args.head,
        repo=args.repo,
        rounds=rounds,
        python=python,
        pytest_args=tuple(pytest_args),
        budget=budget,
        threshold=threshold,
        extra_rounds=int(extra),
        health_sample=health_sample,
        mode=mode,
        max_foreign_load=load_limit,
        load_limit_from_runs=args.max_foreign_load is None,
    )


MODES = ("time", "instructions")


def _mode(given: str | None, in_args: str | None) -> str:
    from pytest_causal_eval.ab.runner import MODE_FLAG

    for flag, value in (("--mode", given), (MODE_FLAG, in_args)):
        if value is not None and value.strip().lower() not in MODES:
            raise CLIError(f"{flag}: expected time or instructions, got {value!r}")
    if given is not None and in_args is not None and given.strip().lower() != in_args.strip().lower():
        raise CLIError(f"--mode {given} and {MODE_FLAG}={in_args} among PYTEST_ARGS disagree")
    chosen = given if given is not None else in_args
    return chosen.strip().lower() if chosen is not None else "time"


def _check_valgrind() -> None:
    """valgrind on PATH on a platform it supports, or a usage error saying what to install."""
    from pytest_causal_eval.measure.valgrind import current_platform, request_code
    from pytest_causal_eval.measure.valgrind_launch import find_valgrind

    try:
        request_code(current_platform())
        find_valgrind()
    except RuntimeError as exc:
        raise CLIError(f"--mode instructions: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.ab.orchestrate import execute
    from pytest_causal_eval.ab.report import exit_status, markdown, results_document, terminal_lines
    from pytest_causal_eval.ab.worktrees import ABError
    from pytest_causal_eval.atomicio import write_json_atomic, write_text_atomic
    from pytest_causal_eval.cli._progress import RunProgress

    plan = _plan(args)
    json_path = writable_output("-o/--output", args.output)
    markdown_path = writable_output("--markdown", args.markdown)
    display = RunProgress()
    try:
        outcome = execute(plan, progress=display.note, observer=display, workdir=args.workdir)
    except ABError as exc:
        raise CLIError(str(exc)) from None
    width = shutil.get_terminal_size((100, 24)).columns
    for line in terminal_lines(outcome, width=width, strict=args.strict):
        print(line)
    text = markdown(outcome)
    try:
        if json_path is not None:
            write_json_atomic(json_path, results_document(outcome).to_dict())
        if markdown_path is not None:
            write_text_atomic(markdown_path, text)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write the report: {exc}") from None
    return exit_status(outcome, strict=args.strict)
