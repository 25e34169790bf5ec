"""Where profile artifacts go: ``<report dir>/profiles/<safe stem>.<kind suffix>``, plus ``index.json``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pytest_causal_eval.atomicio import write_json_atomic
from pytest_causal_eval.profiling.names import artifact_stem, build_index, merge_index

__all__ = [
    "ARTIFACT_SUFFIXES",
    "BASELINE_DIR",
    "INDEX_NAME",
    "ArtifactStore",
    "baseline_profile_dir",
    "keep_baseline_profiles",
    "kept_baseline_profiles",
]

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


BASELINE_DIR = "baseline"


def baseline_profile_dir(report_dir: Path, machine_key: str) -> Path:
    """Where the profiles of a saved baseline are kept: ``<report dir>/profiles/baseline/<machine key>``.

    Kept in the report folder, not beside the committed baselines: profiles weigh hundreds of
    kilobytes each and belong to the machine that saved them."""
    return report_dir / "profiles" / BASELINE_DIR / machine_key


def keep_baseline_profiles(
    report_dir: Path, machine_key: str, saved: Mapping[str, tuple[str, Mapping[str, str]]]
) -> int:
    """Copy each saved measurement's profiles (``{id: (saved_at, {kind: path})}``) beside the others
    of its baseline, atomically, and record them in that folder's ``index.json``
    (``{id: {"saved_at": ..., "files": {kind: name}}}``). Returns how many files were copied."""
    from pytest_causal_eval.atomicio import write_bytes_atomic

    directory = baseline_profile_dir(report_dir, machine_key)
    index_path = directory / INDEX_NAME
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    index = index if isinstance(index, dict) else {}
    copied = 0
    for mid, (saved_at, kinds) in saved.items():
        files = {}
        for kind, source in kinds.items():
            name = Path(source).name
            try:
                data = Path(source).read_bytes()
            except OSError:
                continue
            write_bytes_atomic(directory / name, data)
            files[kind] = name
            copied += 1
        if files:
            index[mid] = {"saved_at": saved_at, "files": files}
    if copied:
        write_json_atomic(index_path, index)
    return copied


def kept_baseline_profiles(
    report_dir: Path, machine_key: str, entries: Mapping[str, Mapping[str, object]]
) -> dict[str, dict[str, Path]]:
    """``{id: {kind: path}}`` of the kept baseline profiles that belong to the baseline entries now in
    use (the entry's ``last_seen`` is when it was saved: a profile kept at another save is not shown)."""
    directory = baseline_profile_dir(report_dir, machine_key)
    try:
        index = json.loads((directory / INDEX_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, dict[str, Path]] = {}
    for mid, record in index.items() if isinstance(index, dict) else ():
        entry = entries.get(mid)
        if not isinstance(record, dict) or entry is None or record.get("saved_at") != entry.get("last_seen"):
            continue
        files = record.get("files")
        found = {
            str(kind): directory / str(name)
            for kind, name in (files.items() if isinstance(files, dict) else ())
            if (directory / str(name)).is_file()
        }
        if found:
            out[str(mid)] = found
    return out
