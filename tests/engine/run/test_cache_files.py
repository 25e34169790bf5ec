"""What the disk cache does to files it cannot write or read: never delete, never claim corruption."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_causal_eval.engine import CacheUnavailable, CacheWarning, SQLiteCache

from ..services import unavailable

EVALUATE = ["evaluate", "--model", "oracle", "--task", "association", "--json"]


def _cli(*args: str, read_only_user: bool = False) -> subprocess.CompletedProcess[str]:
    """``causal-eval ARGS`` in a subprocess; ``read_only_user``: as a user whom file permissions
    bind (root keeps its identity but loses the capabilities that override them)."""
    cmd = [sys.executable, "-m", "pytest_causal_eval.cli", *args]
    if read_only_user and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            unavailable("setpriv (util-linux) is needed to drop root's file-permission override")
        cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _with_live_wal(directory: Path) -> Path:
    """A copy of the cache in ``directory`` whose ``-wal`` holds committed rows not yet checkpointed
    into the main file (what a crashed or still-running writer leaves)."""
    writer = sqlite3.connect(directory / SQLiteCache.FILENAME, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.executemany(
        "INSERT INTO responses VALUES (?, ?, NULL)", [(f"extra-{i}", '{"v":"x","t":0}') for i in range(50)]
    )
    copy = directory.with_name(directory.name + "-live")
    copy.mkdir()
    for suffix in ("", "-wal", "-shm"):
        shutil.copy2(f"{directory / SQLiteCache.FILENAME}{suffix}", copy / f"{SQLiteCache.FILENAME}{suffix}")
    writer.close()
    return copy


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A cache directory holding the answers to the first 40 association questions."""
    cache = tmp_path / "cache"
    done = _cli(*EVALUATE, "-n", "40", "--cache", str(cache))
    assert done.returncode == 0, done.stderr
    return cache


@pytest.fixture
def restore_write_bits(tmp_path: Path) -> Iterator[None]:
    yield
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.mark.parametrize("directory_too", [False, True], ids=["file-read-only", "directory-read-only"])
@pytest.mark.usefixtures("restore_write_bits")
def test_a_read_only_cache_is_used_for_lookups_and_left_untouched(filled: Path, directory_too: bool) -> None:
    live = _with_live_wal(filled)
    for path in live.iterdir():
        path.chmod(0o444)
    if directory_too:
        live.chmod(0o555)
    before = _digests(live)
    assert {f"{SQLiteCache.FILENAME}-wal", f"{SQLiteCache.FILENAME}-shm"} <= set(before)

    done = _cli(*EVALUATE, "-n", "60", "--cache", str(live), read_only_user=True)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["n"] == 60 and result["accuracy"] == 1.0
    assert (result["cache_hits"], result["cache_misses"]) == (40, 20)  # read from the read-only file
    assert "unreadable" not in done.stderr and "rebuilt" not in done.stderr and "Traceback" not in done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("causal-eval: warning:")]
    assert len(warned) == 1 and "is read-only" in warned[0] and "new responses are not stored" in warned[0]
    assert _digests(live) == before  # nothing moved aside, deleted or rewritten, -wal and -shm included


def test_moving_a_corrupt_cache_aside_keeps_its_wal_and_index_beside_it(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path)
    cache.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"{SQLiteCache.FILENAME}{suffix}").write_bytes(f"side{suffix}".encode())
    with pytest.warns(CacheWarning, match=r"unreadable \(file is not a database\); moved aside to"):
        cache._rebuild(sqlite3.DatabaseError("file is not a database"))
    (aside,) = tmp_path.glob(f"{SQLiteCache.FILENAME}.corrupt-*[0-9]")
    for suffix in ("-wal", "-shm"):  # they belong to the moved file: kept beside it, not deleted
        assert Path(f"{aside}{suffix}").read_bytes() == f"side{suffix}".encode()


def test_a_cache_path_that_cannot_be_opened_is_not_moved_aside(tmp_path: Path) -> None:
    (tmp_path / SQLiteCache.FILENAME).mkdir()  # e.g. a mount point, or a user's mistake
    (tmp_path / SQLiteCache.FILENAME / "keep.txt").write_text("mine")
    with pytest.raises(CacheUnavailable, match=r"responses\.sqlite3 cannot be used: unable to open"):
        SQLiteCache(tmp_path)
    assert (tmp_path / SQLiteCache.FILENAME / "keep.txt").read_text() == "mine"
    assert not list(tmp_path.glob("*.corrupt-*"))


@pytest.mark.usefixtures("restore_write_bits")
def test_a_read_only_file_that_is_no_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / SQLiteCache.FILENAME).write_bytes(b"not a database " * 300)
    (broken / SQLiteCache.FILENAME).chmod(0o444)
    broken.chmod(0o555)
    before = _digests(broken)
    done = _cli(*EVALUATE, "-n", "10", "--cache", str(broken), read_only_user=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "responses.sqlite3 is not a usable database: file is not a database" in done.stderr
    assert "warning" not in done.stderr  # no "read-only, used for lookups" for a file that cannot be read
    assert _digests(broken) == before
