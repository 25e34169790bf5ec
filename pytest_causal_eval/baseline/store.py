"""The baseline directory: one JSON file per machine key, read and written under a file lock.

Writes are read-merge-write under ``<file>.lock`` (pytest-xdist controllers, parallel CI jobs and
the CLI may save at once; nobody's entries are lost) and atomic (temporary file + rename: Ctrl-C
never leaves half a file). A file that cannot be read is never overwritten silently: loading raises
``BaselineFileError`` naming the file; saving over it first moves it aside to ``<file>.unreadable``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_causal_eval.atomicio import write_text_atomic
from pytest_causal_eval.baseline.schema import (
    BaselineFormatError,
    dumps_stable,
    empty_document,
    merge_sessions,
    migrate,
)

__all__ = ["LOCK_TIMEOUT", "BaselineFile", "BaselineFileError", "BaselineStore"]

LOCK_TIMEOUT = 120.0


class BaselineFileError(Exception):
    """A baseline file that cannot be used: ``path`` and ``problem`` name it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass
class BaselineFile:
    path: Path
    document: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.document.get("machine", {}).get("key") or self.path.stem)

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.document.get("machine") or {})

    @property
    def measurements(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("measurements") or {})


def read_baseline(path: Path) -> BaselineFile:
    """Parse, migrate and validate one file; raise BaselineFileError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineFileError(path, "does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineFileError(path, f"cannot be read ({exc})") from None
    if not text.strip():
        raise BaselineFileError(path, "is empty (truncated?)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineFileError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); truncated?"
        ) from None
    try:
        return BaselineFile(path, migrate(raw))
    except BaselineFormatError as exc:
        raise BaselineFileError(path, str(exc)) from None


class BaselineStore:
    """The baseline directory (``--causal-eval-baselines``, default ``baselines``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def keys(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if p.is_file())

    def files(self) -> Iterator[Path]:
        for key in self.keys():
            yield self.path_for(key)

    def load(self, key: str) -> BaselineFile | None:
        """The file for ``key``; None when there is none; BaselineFileError when it is unusable."""
        path = self.path_for(key)
        if not path.exists():
            return None
        return read_baseline(path)

    def _lock(self, path: Path) -> Any:
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT)

    def update(
        self,
        key: str,
        machine: Mapping[str, Any],
        change: Callable[[dict[str, Any]], None],
    ) -> tuple[Path, Path | None]:
        """Read-merge-write under the lock: ``change`` edits the current document in place.

        Returns the file written and, when the old file was unreadable, where it was moved.
        """
        path = self.path_for(key)
        moved: Path | None = None
        with self._lock(path):
            try:
                document = read_baseline(path).document if path.exists() else empty_document(machine)
            except BaselineFileError:
                moved = _move_aside(path)
                document = empty_document(machine)
            document["machine"] = {**dict(document.get("machine") or {}), **dict(machine)}
            change(document)
            write_text_atomic(path, dumps_stable(document))
        return path, moved

    def save_entries(
        self, key: str, machine: Mapping[str, Any], entries: Mapping[str, dict[str, Any]]
    ) -> tuple[Path, Path | None]:
        """Add or replace entries; entries not given are kept; ``first_seen`` and the saving sessions
        (``time.sessions``) of an old entry survive."""

        def merge(document: dict[str, Any]) -> None:
            measurements = document.setdefault("measurements", {})
            for mid, entry in entries.items():
                old = measurements.get(mid)
                new = dict(entry)
                if isinstance(old, Mapping) and old.get("first_seen"):
                    new["first_seen"] = old["first_seen"]
                old_time = old.get("time") if isinstance(old, Mapping) else None
                new_time = new.get("time")
                if isinstance(new_time, Mapping) and isinstance(old_time, Mapping):
                    new["time"] = {
                        **new_time,
                        "sessions": merge_sessions(old_time.get("sessions"), new_time.get("sessions") or []),
                    }
                measurements[mid] = new

        return self.update(key, machine, merge)

    def remove_entries(self, key: str, should_remove: Callable[[str, Mapping[str, Any]], bool]) -> list[str]:
        """Delete entries for which ``should_remove(id, entry)`` is true; returns their ids."""
        removed: list[str] = []
        path = self.path_for(key)
        with self._lock(path):
            document = read_baseline(path).document
            measurements = document.get("measurements") or {}
            for mid in sorted(measurements):
                if should_remove(mid, measurements[mid]):
                    removed.append(mid)
                    del measurements[mid]
            if removed:
                write_text_atomic(path, dumps_stable(document))
        return removed


def _move_aside(path: Path) -> Path:
    target = path.with_name(path.name + ".unreadable")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.unreadable{n}")
    os.replace(path, target)
    return target
