"""Git plumbing for A/B runs: resolving refs, detecting a dirty tree, and temporary worktrees that
are removed whatever happens (an error, Ctrl-C, SIGTERM from a CI runner cancelling the job)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

__all__ = [
    "ABError",
    "Worktrees",
    "dirty_files",
    "interrupt_on_termination",
    "repo_root",
    "resolve_commit",
    "shielded_from_interrupts",
]


class ABError(Exception):
    """A user-facing problem with an A/B run (bad ref, not a repository, a worktree not created)."""


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise ABError("git is not installed (or not on PATH); causal-eval ab needs it") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def repo_root(path: Path) -> Path:
    """The top level of the repository containing ``path``."""
    if not path.is_dir():
        raise ABError(f"--repo: {path} is not a directory")
    proc = _git(path, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise ABError(f"--repo: {path} is not inside a git repository ({_last_line(proc.stderr)})")
    return Path(proc.stdout.strip())


def resolve_commit(repo: Path, ref: str, flag: str) -> str:
    """The full commit id ``ref`` names; an ``ABError`` naming the flag and the ref otherwise."""
    if not ref.strip() or ref.startswith("-"):
        raise ABError(f"{flag}: {ref!r} is not a git revision")
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ABError(f"{flag}: no commit named {ref!r} in {repo} (a branch, tag or commit id is expected)")
    return proc.stdout.strip()


def dirty_files(repo: Path) -> list[str]:
    """Tracked files with uncommitted changes (untracked files are not looked at)."""
    proc = _git(repo, "status", "--porcelain", "--untracked-files=no")
    if proc.returncode != 0:
        return []
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


class Worktrees:
    """Detached worktrees under ``parent``; ``close()`` (or leaving the ``with`` block) removes them."""

    def __init__(self, repo: Path, parent: Path) -> None:
        self.repo = repo
        self.parent = parent
        self.paths: list[Path] = []

    def add(self, name: str, commit: str) -> Path:
        path = self.parent / name
        if path.exists():  # never take over (and later delete) a directory we did not make
            raise ABError(f"cannot create a worktree at {path}: it already exists")
        self.paths.append(path)  # registered before git runs: a half-made worktree is removed too
        proc = _git(self.repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
        if proc.returncode != 0:
            raise ABError(f"cannot create a worktree of {commit[:12]} at {path}: {_last_line(proc.stderr)}")
        return path

    def close(self) -> list[str]:
        """Remove every worktree made (forcefully) and prune git's records; returns the problems."""
        problems: list[str] = []
        for path in reversed(self.paths):
            proc = _git(self.repo, "worktree", "remove", "--force", str(path))
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                problems.append(f"could not remove worktree {path}: {_last_line(proc.stderr)}")
        self.paths.clear()
        _git(self.repo, "worktree", "prune")
        return problems

    def __enter__(self) -> Worktrees:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with shielded_from_interrupts():
            self.close()


_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def interrupt_on_termination() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into ``KeyboardInterrupt`` (as Ctrl-C is) so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupt) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def shielded_from_interrupts() -> Iterator[None]:
    """Ignore Ctrl-C and termination signals while cleaning up (a second Ctrl-C must not strand it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = (signal.SIGINT, *_SIGNALS)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in names}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
