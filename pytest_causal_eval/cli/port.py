"""``causal-eval port PATH...``: rewrite a pytest-benchmark suite for pytest-causal-eval, in place.

Renames the fixture ``benchmark`` to ``causal_bench``, turns ``@pytest.mark.benchmark(...)`` into
``@pytest.mark.causal_eval(...)`` with its keys mapped, ports ``--benchmark-*`` options in the
``addopts`` of pytest's config files (the ones under PATH and the one pytest reads for PATH), and
keeps ``pytest_benchmark_*`` hooks as optional hooks. Only the spans that change are edited;
comments and formatting stay. Running it again changes nothing.

What it could not port is printed as ``file:line: not ported: reason`` (``note:`` for a change
worth knowing). A file that cannot be parsed is named with its error and nothing at all is
written. Exit status: 0 everything ported, 1 something needs a hand edit, 2 a file could not be
parsed (or a PATH does not exist).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import description

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "port",
        help="rewrite a pytest-benchmark suite (fixture, marker, options, hooks) for this plugin",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="test files or directories")
    parser.add_argument(
        "--diff", action="store_true", help="print a unified diff of the changes instead of writing them"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.atomicio import write_bytes_atomic
    from pytest_causal_eval.porting import plan_port

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise CLIError(f"{missing[0]}: no such file or directory")
    ports, errors = plan_port(args.paths)
    if errors:
        for error in errors:
            print(f"causal-eval: error: {error}", file=sys.stderr)
        print("causal-eval: error: nothing was changed", file=sys.stderr)
        return 2
    changed = [p for p in ports if p.changed]
    for port in changed:
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    port.old.splitlines(keepends=True),
                    port.new.splitlines(keepends=True),
                    fromfile=f"a/{port.path}",
                    tofile=f"b/{port.path}",
                )
            )
        else:
            try:
                write_bytes_atomic(port.path, port.new_bytes())
            except OSError as exc:
                raise CLIError(f"cannot write {port.path}: {exc.strerror or exc}") from None
    findings = sorted(f for p in ports for f in p.findings)
    for finding in findings:
        print(finding.format(), file=sys.stderr)
    not_ported = sum(1 for f in findings if not f.ported)
    verb = "would port" if args.diff else "ported"
    summary = f"{verb} {len(changed)} of {len(ports)} file(s); {not_ported} thing(s) not ported"
    print(summary + (", listed above" if not_ported else ""), file=sys.stderr if args.diff else sys.stdout)
    if changed and not args.diff:
        print("measure with: pytest --causal-eval (without it each workload runs once)")
    return 1 if not_ported else 0
