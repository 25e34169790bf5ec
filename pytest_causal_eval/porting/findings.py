"""What the port reports: a file position and a reason, as ``path:line: not ported: reason``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "PortParseError"]


@dataclass(frozen=True, order=True)
class Finding:
    """One thing the port could not do (``ported=False``) or did with a change worth knowing."""

    path: str
    line: int
    message: str
    ported: bool = False

    def format(self) -> str:
        return f"{self.path}:{self.line}: {'note' if self.ported else 'not ported'}: {self.message}"


class PortParseError(Exception):
    """A file the port cannot parse: it changes nothing and names the file and the error."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        super().__init__(f"{path}{f':{line}' if line else ''}: cannot parse: {reason}")
        self.path = path
        self.line = line
        self.reason = reason
