"""Allocation sites (pure): where memory was allocated, aggregated per (file, function)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.profiling.hotspots import CodeSite, short_path

__all__ = ["AllocationSite", "aggregate_sites"]

Frame = tuple[str, str, int]  # (function, file, line), innermost first


@dataclass(frozen=True)
class AllocationSite(CodeSite):
    """Bytes (``size``) and allocation count attributed to the innermost Python frame that allocated them."""

    size: int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.site_dict(), "size": self.size, "count": self.count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationSite:
        return cls(
            **cls.site_from(data),
            size=int(data.get("size", 0) or 0),
            count=int(data.get("count", 0) or 0),
        )


def aggregate_sites(
    records: Iterable[tuple[Sequence[Frame], int, int]],
    roots: Iterable[str],
    limit: int = 15,
    exclude: Sequence[str] = (),
) -> list[AllocationSite]:
    """``(stack innermost first, size, count)`` records -> top sites by size. The site is the innermost
    frame not in an ``exclude``d file; records made by the excluded harness alone are dropped, a record
    without any frame is ``<unknown>``."""
    root_list = list(roots)
    excluded = tuple(exclude)
    sizes: dict[tuple[str, str], int] = {}
    counts: dict[tuple[str, str], int] = {}
    lines: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (line, size) of its biggest line
    for stack, size, count in records:
        frame = next((f for f in stack if not (excluded and f[1].startswith(excluded))), None)
        if frame is None and stack:
            continue
        if frame is None:
            key, line = ("?", "<unknown>"), 0
        else:
            key, line = (short_path(frame[1], root_list), frame[0]), int(frame[2])
        sizes[key] = sizes.get(key, 0) + int(size)
        counts[key] = counts.get(key, 0) + int(count)
        if key not in lines or size > lines[key][1]:
            lines[key] = (line, int(size))
    sites = [
        AllocationSite(function=k[1], file=k[0], line=lines[k][0], size=sizes[k], count=counts[k])
        for k in sizes
    ]
    sites.sort(key=lambda s: (-s.size, -s.count, s.file, s.function))
    return sites[:limit]
