"""The lock every writer of a baseline directory takes: pytest-xdist controllers, parallel CI jobs and
the CLI may write at once, and a read-merge-write must not lose anyone's entries.

It is an exclusive ``flock`` on the directory itself, so nothing is left beside the baselines in the
user's folder (a lock *file* would be, and would show up in ``git status``). Where a directory cannot
be locked (Windows has no ``flock``; some network filesystems refuse it on a directory) it falls back
to a lock file, ``.causal-eval.lock``, in the directory, which is then left there (ignore it in git).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FALLBACK_LOCK_NAME", "LockTimeout", "directory_lock"]

FALLBACK_LOCK_NAME = ".causal-eval.lock"


class LockTimeout(TimeoutError):
    """Another process held the directory's lock for longer than the timeout."""


@contextlib.contextmanager
def directory_lock(directory: Path, timeout: float) -> Iterator[None]:
    """Hold the exclusive lock of ``directory`` (created when missing) for the ``with`` block.

    OSError when the directory cannot be created or opened; ``LockTimeout`` after ``timeout`` seconds.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = _locked_directory(directory, timeout)
    if fd is None:
        with _file_lock(directory, timeout):
            yield
        return
    try:
        yield
    finally:
        _unlock(fd)


def _locked_directory(directory: Path, timeout: float) -> int | None:
    """A descriptor of ``directory`` holding its flock; None where a directory cannot be flocked."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another process has held the lock on {directory} for more than {timeout:g}s"
                    ) from None
                time.sleep(0.02)
            except OSError:  # e.g. a network filesystem that locks files only
                os.close(fd)
                return None
    except BaseException:  # the timeout, Ctrl-C while waiting
        os.close(fd)
        raise


def _unlock(fd: int) -> None:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _file_lock(directory: Path, timeout: float) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(str(directory / FALLBACK_LOCK_NAME), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise LockTimeout(
            f"another process has held the lock on {directory} for more than {timeout:g}s"
        ) from None
    try:
        yield
    finally:
        lock.release()
