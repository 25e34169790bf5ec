"""Edits by exact source span: what the port changes, and nothing else.

Positions from ``ast`` are (1-based line, UTF-8 byte column); ``SourceIndex`` turns them into
offsets in the decoded text so an edit replaces exactly the characters of one node or token and
every other byte of the file (comments, blank lines, quotes, line endings) stays as it was.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Edit", "SourceIndex", "apply_edits"]

# The line breaks Python's tokenizer knows: not str.splitlines's, which also splits on \f, \x1c, ...
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement`` (an insertion when ``start == end``)."""

    start: int
    end: int
    replacement: str


class SourceIndex:
    """Maps (line, UTF-8 byte column) positions of one text to character offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line break."""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return _LINE_BREAK.sub("", self.text[start:end])

    def offset(self, line: int, byte_col: int) -> int:
        prefix = self.line_text(line).encode("utf-8")[:byte_col]
        return self.line_starts[line - 1] + len(prefix.decode("utf-8"))

    def line_of(self, offset: int) -> int:
        """The 1-based line an offset falls on."""
        low, high = 0, len(self.line_starts) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if self.line_starts[mid] <= offset:
                low = mid
            else:
                high = mid - 1
        return low + 1


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with every edit applied; overlapping edits are a bug in the caller (ValueError).

    Insertions at one offset keep the order they were made in; a repeated edit counts once."""
    ordered = sorted(dict.fromkeys(edits), key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"overlapping edits at offsets {before.start}-{before.end} and {after.start}")
    out: list[str] = []
    cursor = 0
    for edit in ordered:
        out.append(text[cursor : edit.start])
        out.append(edit.replacement)
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out)
