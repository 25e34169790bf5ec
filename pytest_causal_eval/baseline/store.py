"""The baseline directory: one JSON file per machine key, read and written under the directory's lock.

Writes are read-merge-write under the lock of the directory (``locking``: pytest-xdist controllers,
parallel CI jobs and the CLI may save at once; nobody's entries are lost; no lock file is left
beside the baselines) and atomic (temporary file + rename: Ctrl-C never leaves half a file; the
temporaries of a killed save are removed by the next one; a symlinked file is written through).

Nothing is lost or overwritten silently:

- a file that cannot be read raises ``BaselineFileError`` naming the file on load; saving over it
  first moves it aside to ``<file>.unreadable``;
- a file of a newer schema is never written (``SchemaTooNewError``): nothing is moved or changed;
- an entry with a bad number is quarantined (``BaselineFile.quarantined``, never in
  ``measurements``) and stays in the file as it is until a save measures it again;
- saving under a key whose file holds another machine's fingerprint (hard keys that differ) is
  refused with ``MachineMismatchError`` unless forced.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_causal_eval.atomicio import remove_stale_temporaries, write_text_atomic
from pytest_causal_eval.baseline.locking import directory_lock
from pytest_causal_eval.baseline.schema import (
    BaselineFormatError,
    SchemaTooNewError,
    carry_over_other_mode,
    dumps_stable,
    empty_document,
    entry_problem,
    merge_sessions,
    migrate,
)
from pytest_causal_eval.environment.fingerprint import Fingerprint, describe_differences, hard_differences

__all__ = [
    "LOCK_TIMEOUT",
    "BaselineFile",
    "BaselineFileError",
    "BaselineStore",
    "MachineMismatchError",
    "SaveOutcome",
    "TooNewError",
    "read_baseline",
]

LOCK_TIMEOUT = 120.0


class BaselineFileError(Exception):
    """A baseline file that cannot be used: ``path`` and ``problem`` name it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


class TooNewError(BaselineFileError):
    """A file written by a newer plugin (a newer ``schema_version``): neither used nor ever written."""


class MachineMismatchError(BaselineFileError):
    """Saving into a file that holds another machine's fingerprint; ``differences`` are its hard keys
    that differ from this machine's, ``{key: (stored, this machine)}``."""

    def __init__(self, path: Path, differences: Mapping[str, tuple[Any, Any]]) -> None:
        super().__init__(
            path,
            "it holds the baseline of another machine (stored vs this machine: "
            f"{describe_differences(differences)}); refusing to save this machine's measurements into it",
        )
        self.differences = dict(differences)


@dataclass
class BaselineFile:
    """A loaded file. ``measurements`` holds the entries the gate may use; ``quarantined`` names the
    others (id -> the bad field); ``document`` is the whole file, bad entries included."""

    path: Path
    document: dict[str, Any]
    quarantined: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.document.get("machine", {}).get("key") or self.path.stem)

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.document.get("machine") or {})

    @property
    def measurements(self) -> dict[str, dict[str, Any]]:
        entries = self.document.get("measurements") or {}
        return {mid: e for mid, e in entries.items() if mid not in self.quarantined}


@dataclass
class SaveOutcome:
    """What a save did besides writing ``path``."""

    path: Path
    moved: Path | None = None  # where an unreadable old file was kept
    stale_temporaries: list[Path] = field(default_factory=list)  # left by a killed save, removed
    replaced_machine: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # forced: hard keys replaced
    quarantined: dict[str, str] = field(default_factory=dict)  # bad entries still in the file


def read_baseline(path: Path) -> BaselineFile:
    """Parse, migrate and validate one file; raise BaselineFileError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineFileError(path, "does not exist") from None
    except UnicodeDecodeError as exc:
        raise BaselineFileError(
            path, f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise BaselineFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise BaselineFileError(path, "is empty (truncated?)")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineFileError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); truncated?"
        ) from None
    except RecursionError:
        raise BaselineFileError(path, "is not a baseline file (nested too deeply)") from None
    try:
        document = migrate(raw)
    except SchemaTooNewError as exc:
        raise TooNewError(path, str(exc)) from None
    except BaselineFormatError as exc:
        raise BaselineFileError(path, str(exc)) from None
    quarantined = {}
    for mid, entry in document["measurements"].items():
        problem = entry_problem(entry)
        if problem is not None:
            quarantined[str(mid)] = problem
    return BaselineFile(path, document, quarantined)


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

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[list[Path]]:
        """The directory's lock; yields the stale temporaries of ``path`` it removed."""
        with directory_lock(self.directory, LOCK_TIMEOUT):
            stale = remove_stale_temporaries(path)
            legacy = path.with_name(path.name + ".lock")  # older versions locked with a file beside it
            with contextlib.suppress(OSError):
                if legacy.is_file() and legacy.stat().st_size == 0:
                    legacy.unlink()
            yield stale

    def update(
        self,
        key: str,
        machine: Mapping[str, Any],
        change: Callable[[dict[str, Any]], None],
        force: bool = False,
    ) -> SaveOutcome:
        """Read-merge-write under the lock: ``change`` edits the current document in place.

        Refused (nothing changed): a file of a newer schema (``TooNewError``), and unless ``force``, a
        file whose stored fingerprint differs from ``machine`` in a hard key (``MachineMismatchError``).
        An unreadable file is moved aside first (``SaveOutcome.moved``).
        """
        from pytest_causal_eval import __version__

        path = self.path_for(key)
        with self._locked(path) as stale:
            outcome = SaveOutcome(path, stale_temporaries=stale)
            try:
                loaded = read_baseline(path) if path.exists() else None
            except TooNewError:
                raise
            except BaselineFileError:
                outcome.moved = _move_aside(path)
                loaded = None
            document = loaded.document if loaded is not None else empty_document(machine)
            stored = dict(document.get("machine") or {})
            differences = hard_differences(Fingerprint.from_dict(stored), Fingerprint.from_dict(machine))
            if differences:
                if not force:
                    raise MachineMismatchError(path, differences)
                outcome.replaced_machine = differences
            document["machine"] = {**stored, **dict(machine)}
            change(document)
            document["tool_version"] = __version__
            outcome.quarantined = _quarantined(document)
            write_text_atomic(path, dumps_stable(document))
        return outcome

    def save_entries(
        self,
        key: str,
        machine: Mapping[str, Any],
        entries: Mapping[str, dict[str, Any]],
        force: bool = False,
    ) -> SaveOutcome:
        """Add or replace entries; entries not given are kept (quarantined ones as they are);
        ``first_seen`` and the saving sessions (``time.sessions``) of a usable old entry survive."""

        def merge(document: dict[str, Any]) -> None:
            measurements = document.setdefault("measurements", {})
            for mid, entry in entries.items():
                old = measurements.get(mid)
                if entry_problem(old) is not None:
                    old = None  # a quarantined entry is replaced whole
                new = carry_over_other_mode(old, dict(entry))
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

        return self.update(key, machine, merge, force=force)

    def remove_entries(self, key: str, should_remove: Callable[[str, Mapping[str, Any]], bool]) -> list[str]:
        """Delete entries for which ``should_remove(id, entry)`` is true (quarantined ones included:
        the entry is passed as stored); returns their ids."""
        from pytest_causal_eval import __version__

        removed: list[str] = []
        path = self.path_for(key)
        with self._locked(path):
            document = read_baseline(path).document
            measurements = document.get("measurements") or {}
            for mid in sorted(measurements):
                if should_remove(mid, measurements[mid]):
                    removed.append(mid)
                    del measurements[mid]
            if removed:
                document["tool_version"] = __version__
                write_text_atomic(path, dumps_stable(document))
        return removed


def _quarantined(document: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for mid, entry in (document.get("measurements") or {}).items():
        problem = entry_problem(entry)
        if problem is not None:
            out[str(mid)] = problem
    return out


def _move_aside(path: Path) -> Path:
    target = path.with_name(path.name + ".unreadable")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.unreadable{n}")
    os.replace(path, target)
    return target
