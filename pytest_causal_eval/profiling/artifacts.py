"""Where profile artifacts go: ``<report dir>/profiles/<safe stem>.<kind suffix>``, plus ``index.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pytest_causal_eval.atomicio import write_json_atomic
from pytest_causal_eval.profiling.names import artifact_stem, build_index, merge_index

__all__ = ["ARTIFACT_SUFFIXES", "INDEX_NAME", "ArtifactStore"]

INDEX_NAME = "index.json"

# kind -> file name suffix
ARTIFACT_SUFFIXES: dict[str, str] = {
    "cpu_html": ".cpu.html",
    "speedscope": ".speedscope.json",
    "memory_flamegraph": ".memory.html",
    "torch_trace": ".torch-trace.json",
}


class ArtifactStore:
    """Paths of one run's profile artifacts; nothing is created until a profile is written."""

    def __init__(self, report_dir: Path, display_base: Path) -> None:
        self.directory = report_dir / "profiles"
        self.display_base = display_base

    def path(self, measurement_id: str, kind: str) -> Path:
        return self.directory / (artifact_stem(measurement_id) + ARTIFACT_SUFFIXES[kind])

    def display(self, path: str | Path) -> str:
        """A path as the user would type it: relative to where pytest was started when under it."""
        p = Path(path)
        try:
            return p.relative_to(self.display_base).as_posix() if p.is_absolute() else p.as_posix()
        except ValueError:  # elsewhere: the absolute path says it best
            return str(p)

    def write_index(self, artifacts: Iterable[tuple[str, Mapping[str, str]]]) -> Path | None:
        """Merge this run's ``(id, {kind: path})`` into ``index.json``; None when nothing to index."""
        names = [(mid, {kind: Path(p).name for kind, p in kinds.items()}) for mid, kinds in artifacts]
        names = [(mid, kinds) for mid, kinds in names if kinds]
        if not names:
            return None
        index_path = self.directory / INDEX_NAME
        old: object = None
        try:
            old = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        write_json_atomic(index_path, merge_index(old, build_index(names)))
        return index_path
