"""Hotspots from a sampled call tree (pure): self and total share per function.

The tree is duck-typed on pyinstrument's ``Frame`` (``function``, ``file_path``, ``line_no``, ``time``,
``children``, ``is_synthetic``), so tests build small trees by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

__all__ = ["CodeSite", "Hotspot", "TreeFrame", "hotspots_from_tree", "short_path"]


class TreeFrame(Protocol):
    @property
    def function(self) -> str: ...

    @property
    def file_path(self) -> str | None: ...

    @property
    def line_no(self) -> int | None: ...

    @property
    def time(self) -> float: ...

    @property
    def children(self) -> Sequence[TreeFrame]: ...

    @property
    def is_synthetic(self) -> bool: ...


@dataclass(frozen=True)
class CodeSite:
    """A place in the code a profile attributes something to: function, file and line."""

    function: str
    file: str
    line: int

    @property
    def key(self) -> tuple[str, str]:
        """Identity across runs: file and function (the line moves when code above it changes)."""
        return (self.file, self.function)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def site_dict(self) -> dict[str, Any]:
        return {"function": self.function, "file": self.file, "line": self.line}

    @staticmethod
    def site_from(data: Mapping[str, Any]) -> dict[str, Any]:
        """The site's fields read back from ``site_dict``'s form, for a subclass's ``from_dict``."""
        return {
            "function": str(data.get("function", "?")),
            "file": str(data.get("file", "?")),
            "line": int(data.get("line", 0) or 0),
        }


@dataclass(frozen=True)
class Hotspot(CodeSite):
    """A function's share of profiled time: ``self_share`` in its own code, ``total_share`` with callees."""

    self_share: float
    total_share: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.site_dict(), "self": round(self.self_share, 6), "total": round(self.total_share, 6)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hotspot:
        return cls(
            **cls.site_from(data),
            self_share=float(data.get("self", 0.0)),
            total_share=float(data.get("total", 0.0)),
        )


def short_path(path: str | None, roots: Iterable[str]) -> str:
    """A machine-independent file name: the part after ``site-packages``/``dist-packages``, else relative
    to the first root containing it (project root, standard library), else the path unchanged (``/``)."""
    if not path:
        return "?"
    p = PurePath(path)
    parts = p.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            idx = len(parts) - 1 - parts[::-1].index(marker)
            return PurePath(*parts[idx + 1 :]).as_posix()
    for root in roots:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def hotspots_from_tree(
    root: TreeFrame, roots: Iterable[str], limit: int = 25, exclude: Sequence[str] = ()
) -> list[Hotspot]:
    """Aggregate the tree per (file, function): self time summed over every occurrence, total time
    counted once per outermost occurrence (recursion is not double counted). Shares are of the root's time,
    top ``limit`` by self share, then total share. Frames whose file starts with one of ``exclude`` (the
    harness that repeats the workload) are skipped, their callees kept."""
    root_list = list(roots)
    excluded = tuple(exclude)
    total_time = root.time
    if total_time <= 0:
        return []
    self_time: dict[tuple[str, str], float] = {}
    total: dict[tuple[str, str], float] = {}
    first_line: dict[tuple[str, str], int] = {}

    def visit(frame: TreeFrame, active: frozenset[tuple[str, str]]) -> None:
        if frame.is_synthetic:
            return
        if excluded and (frame.file_path or "").startswith(excluded):
            for child in frame.children:
                if child.file_path != "<built-in>":  # the harness's own clock reads and loop
                    visit(child, active)
            return
        key = (short_path(frame.file_path, root_list), frame.function)
        first_line.setdefault(key, frame.line_no or 0)
        own = frame.time - sum(c.time for c in frame.children if not c.is_synthetic)
        self_time[key] = self_time.get(key, 0.0) + max(0.0, own)
        if key not in active:
            total[key] = total.get(key, 0.0) + frame.time
        inner = active | {key}
        for child in frame.children:
            visit(child, inner)

    visit(root, frozenset())
    spots = [
        Hotspot(
            function=key[1],
            file=key[0],
            line=first_line[key],
            self_share=self_time.get(key, 0.0) / total_time,
            total_share=total[key] / total_time,
        )
        for key in total
    ]
    spots.sort(key=lambda h: (-h.self_share, -h.total_share, h.file, h.function))
    return spots[:limit]
