"""The spelling every ``causal-eval`` subcommand follows, and the helpers that keep it.

- ``--json`` is a switch: print the command's result as JSON on stdout instead of text.
- ``-o/--output PATH`` is the file (or ``DIR``) the command writes; ``--markdown PATH`` writes
  the verdicts as Markdown.
- ``--history PATH`` is the history database, ``--baselines DIR`` the baseline directory,
  ``--machine KEY`` a machine key, in every command that takes one.
- Metavars are short words (``N``, ``PATH``, ``DIR``, ``RATE``, ``SECONDS``, ...).

An old spelling stays for one release as a *deprecated alias*: hidden from ``--help``, it still
works and prints one note naming the new spelling.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["DeprecatedAlias", "deprecated_alias", "description"]

#: Where a parse remembers the deprecated spellings it has noted (one note per spelling).
_NOTED = "_deprecated_spellings_noted"


def _note(namespace: argparse.Namespace, old: str, new: str) -> None:
    noted: set[str] = namespace.__dict__.setdefault(_NOTED, set())
    if old in noted:
        return
    noted.add(old)
    print(
        f"causal-eval: note: {old} is deprecated and will be removed in the next release; use {new}",
        file=sys.stderr,
    )


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the new option's destination, after one note."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, *, new: str, old: str = "", **kwargs: Any
    ) -> None:
        self.new = new
        self.old = old
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        _note(namespace, self.old or option_string or self.option_strings[0], self.new)
        if self.nargs == 0:
            setattr(namespace, self.dest, self.const)
        else:
            setattr(namespace, self.dest, values)


def deprecated_alias(
    parser: argparse.ArgumentParser, old: str, new: argparse.Action, *, shown: str = ""
) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of the option ``new`` (same value, same type).
    ``shown``: how the note names the old spelling (default ``old`` itself)."""
    metavar = new.metavar if isinstance(new.metavar, str) else ""
    like: dict[str, Any] = {"nargs": new.nargs, "const": new.const, "metavar": new.metavar}
    if new.type is not None:
        like["type"] = new.type
    parser.add_argument(
        old,
        action=DeprecatedAlias,
        new="/".join(new.option_strings) + (f" {metavar}" if shown and metavar else ""),
        old=shown,
        dest=new.dest,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
        **like,
    )


_RST_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def description(doc: str | None) -> str:
    """A module docstring as a subcommand's ``--help`` text: without the leading restated usage
    (``causal-eval cmd ARGS``: what it does) and without reStructuredText literal markup."""
    text = (doc or "").strip()
    text = re.sub(r"^``causal-eval [^`]*``:\s*", "", text)
    text = _RST_LITERAL.sub(r"\1", text)
    return text[:1].upper() + text[1:]
