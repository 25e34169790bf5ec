"""``causal-eval merge RESULTS.json... -o PATH``: join the results files of a sharded suite.

Refuses files from different machine keys (naming the keys), measurement ids that appear in
more than one file (unless ``--allow-duplicates``, which pools their rounds), and a file with a bad
number in a measurement (a NaN, a negative time: named with the file and the field; merging would
drop the measurement or write a file that is not JSON). Notes missing shards.

Exit status: 0 merged and nothing regressed; 1 merged, and a shard's verdicts include a regression;
2 a usage error (unreadable file, different machines, duplicate ids, a bad number); nothing is
written then.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError, writable_output
from pytest_causal_eval.cli._args import description

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge results files (e.g. of --causal-eval-shard runs) into one",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="RESULTS.json", help="results files to merge")
    parser.add_argument(
        "-o", "--output", required=True, metavar="PATH", help="write the merged results file to PATH"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", help="also write the merged verdicts as Markdown to PATH"
    )
    parser.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="pool the rounds of measurement ids found in several files instead of refusing",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.atomicio import write_json_atomic, write_text_atomic
    from pytest_causal_eval.cli.compare import load_results, quarantine_lines
    from pytest_causal_eval.numbers import non_finite_path
    from pytest_causal_eval.report.markdown import render_markdown
    from pytest_causal_eval.report.verdicts import render_summary, verdict_rows
    from pytest_causal_eval.shard.merge import MergeError, merge_results

    output = writable_output("-o/--output", args.output) or Path(args.output)
    markdown_path = writable_output("--markdown", args.markdown)
    resolved = {p.resolve() for p in args.inputs}
    if output.resolve() in resolved:
        raise CLIError(f"-o/--output: {output} is also an input; write the merged results elsewhere")
    if len(resolved) != len(args.inputs):
        raise CLIError("the same results file is given twice")
    inputs = [(str(path), load_results(path)) for path in args.inputs]
    bad = [
        line
        for path, (_, results) in zip(args.inputs, inputs, strict=True)
        for line in quarantine_lines(path, results, "fix or remove it before merging")
    ]
    if bad:
        raise CLIError("; ".join(bad[:3]) + (f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""))
    try:
        merged = merge_results(inputs, allow_duplicates=args.allow_duplicates)
    except MergeError as exc:
        raise CLIError(str(exc)) from None
    document = merged.results.to_dict()
    where = non_finite_path(document)
    if where is not None:
        raise CLIError(
            f"the merged results would hold a number that is not JSON (NaN or Infinity) at {where}"
        )
    rows = verdict_rows(merged.results.measurements)
    try:
        write_json_atomic(output, document)
        if markdown_path is not None:
            title = f"causal-eval: merged results of {len(inputs)} file(s)"
            write_text_atomic(markdown_path, render_markdown(rows, title=title, notes=merged.notes))
    except OSError as exc:
        raise CLIError(f"cannot write the merged results: {exc.strerror or exc}") from None
    print(
        f"merged {len(merged.results.measurements)} measurement(s) from {len(inputs)} file(s) into {output}"
    )
    for line in render_summary(rows, width=shutil.get_terminal_size((100, 24)).columns):
        print(line)
    for note in merged.notes:
        print(f"note: {note}")
    return 1 if any(r.verdict == "regressed" for r in rows) else 0
