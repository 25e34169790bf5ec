"""Atomic file writes: a temporary file in the same directory, fsync, then ``os.replace``.

A reader sees the old file or the new one, never half of one, even after Ctrl-C or a crash. A
symbolic link is written through (its target is replaced, the link stays a link); a link that loops
is refused. A path that names something other than a regular file (``/dev/null``, a named pipe, a
terminal) is written into, not replaced: replacing ``/dev/null`` with a file, as root, would break
the machine. A process killed
mid-write leaves its temporary (``.<name>.XXXXXXXX.tmp``) behind; ``remove_stale_temporaries``
deletes those of one file, for a caller that holds the lock every writer of that file takes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["remove_stale_temporaries", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]

_RANDOM = "[a-z0-9_]{8}"  # tempfile's random part of a name


def _target(path: Path) -> Path:
    """The file a write to ``path`` must replace: ``path`` itself, or the file a symlink points to."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # a dangling link: its target is created
        return Path(os.path.realpath(path))
    except OSError as exc:  # ELOOP: the link points back to itself through other links
        raise OSError(errno.ELOOP, "a symbolic link that loops, not a file", str(path)) from exc


def _is_special(path: Path) -> bool:
    """An existing path that is not a regular file or a directory: a device, a pipe, a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = _target(Path(path))
    if _is_special(path):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    """Stable formatting: sorted keys, two-space indent, trailing newline."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries an interrupted ``write_*_atomic`` of ``path`` left behind; returns them.

    Only for a caller holding the lock every writer of ``path`` takes: a temporary of a write in
    progress elsewhere would be deleted too.
    """
    target = _target(Path(path))
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.{_RANDOM}\.tmp$")
    removed: list[Path] = []
    try:
        candidates = list(target.parent.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        if pattern.match(candidate.name) and candidate.is_file() and not candidate.is_symlink():
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed
