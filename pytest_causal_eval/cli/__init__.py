"""The ``causal-eval`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``; the module adds its parser and sets ``func`` (a callable taking the
parsed namespace and returning an exit status). Modules keep heavy imports inside ``func`` so
``causal-eval --help`` stays fast. Every subcommand follows one spelling of its options
(``_args``: ``--json`` a stdout switch, ``-o/--output`` a file, ``--history``, ``--baselines``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CLIError", "build_parser", "main", "writable_output"]


class CLIError(Exception):
    """A user mistake: printed as ``causal-eval: error: ...`` with exit status 2, never a traceback."""


def writable_output(flag: str, text: str | None) -> Path | None:
    """The file a ``flag`` names, checked writable before any work starts; None when not given."""
    from pytest_causal_eval.options import parse_writable_file

    if text is None:
        return None
    try:
        return parse_writable_file(text)
    except ValueError as exc:
        raise CLIError(f"{flag}: {exc}") from None


def _subcommand_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(names)


def build_parser() -> argparse.ArgumentParser:
    from pytest_causal_eval import __version__

    parser = argparse.ArgumentParser(
        prog="causal-eval",
        description="Causal-reasoning evaluation engine and performance-regression tools.",
    )
    parser.add_argument(
        "--version", action="version", version=f"causal-eval {__version__}", help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _subcommand_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
    except CLIError as exc:
        print(f"causal-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("causal-eval: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``causal-eval history | head``): stop quietly, as a shell tool killed
        # by SIGPIPE would. Point stdout at /dev/null so the flush at exit does not fail again.
        _silence_stdout()
        return 141
    return int(status or 0)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to flush later
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
