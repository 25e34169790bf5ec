"""The history database (SQLite): one row per run, one row per measurement of a run.

Writes happen in one ``BEGIN IMMEDIATE`` transaction with a busy timeout, so concurrent runs
(parallel CI jobs sharing a workspace) queue instead of failing; under pytest-xdist only the
controller writes. A file that is not a readable history database is never written into: appending
moves it aside (``<name>.corrupt-<time>``) and starts a fresh one, and says so.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fnmatch
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from pytest_causal_eval.history.records import RunRecord, SeriesPoint

__all__ = ["SCHEMA_VERSION", "HistoryError", "HistoryStore", "match_benchmark"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    branch TEXT NOT NULL,
    dirty INTEGER NOT NULL,
    machine_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    tool_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    benchmark TEXT NOT NULL,
    median REAL,
    iqr REAL,
    n INTEGER NOT NULL,
    p95 REAL,
    mean REAL,
    metrics TEXT NOT NULL,
    verdict TEXT,
    PRIMARY KEY (run_id, benchmark)
);
CREATE INDEX IF NOT EXISTS measurements_by_benchmark ON measurements (benchmark, run_id);
"""

# Columns added after schema 1 (older files get them on their next write; older readers ignore them).
_ADDED = (("runs", "health", "TEXT"), ("measurements", "noisy", "INTEGER"))


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


class HistoryError(Exception):
    """A history database that cannot be used; ``path`` and ``problem`` name it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"history database {path}: {problem}")
        self.path = path
        self.problem = problem


def match_benchmark(benchmark: str, pattern: str | None) -> bool:
    """A glob when the pattern has ``*`` or ``?``, else a substring match. Brackets are literal
    either way: test ids are full of them (``test_x[gpu-8]``)."""
    if not pattern:
        return True
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(benchmark, pattern.replace("[", "[[]"))
    return pattern in benchmark


class HistoryStore:
    def __init__(self, path: Path, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.timeout = timeout

    # -- connections -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            yield conn
        finally:
            conn.close()

    def _check(self, conn: sqlite3.Connection) -> None:
        """Raise sqlite3.DatabaseError for a file that is not our database (or is corrupt)."""
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return
        if "meta" not in tables or "runs" not in tables or "measurements" not in tables:
            raise sqlite3.DatabaseError("not a causal-eval history database (unknown tables)")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else None
        if version is None:
            raise sqlite3.DatabaseError("no schema_version in its meta table")
        if version > SCHEMA_VERSION:
            raise HistoryError(
                self.path,
                f"schema_version {version} is newer than this pytest-causal-eval understands "
                f"({SCHEMA_VERSION}); upgrade pytest-causal-eval (the file is left untouched)",
            )
        check = conn.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else '?'}")

    def _move_aside(self) -> Path:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        self.path.replace(target)
        for suffix in ("-journal", "-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                with contextlib.suppress(OSError):
                    side.replace(target.with_name(target.name + suffix))
        return target

    # -- writing -----------------------------------------------------------------------------------
    def append(self, run: RunRecord) -> tuple[int, Path | None]:
        """Append one run; returns (run id, where an unreadable old file was moved or None).

        Raises HistoryError when the database is locked past the timeout, newer than we understand,
        or cannot be written; never for a corrupt file (that one is moved aside).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moved: Path | None = None
        try:
            return self._append(run), None
        except HistoryError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryError(
                    self.path, f"is locked by another run ({exc}); this run was not recorded"
                ) from None
            if not _looks_corrupt(exc):
                raise HistoryError(
                    self.path, f"cannot be written ({exc}); this run was not recorded"
                ) from None
            moved = self._move_aside()
        except sqlite3.DatabaseError as exc:
            if not self.path.exists():
                raise HistoryError(self.path, f"cannot be written ({exc})") from None
            moved = self._move_aside()
        try:
            return self._append(run), moved
        except sqlite3.Error as exc:
            raise HistoryError(self.path, f"cannot be written ({exc}); this run was not recorded") from None

    def _append(self, run: RunRecord) -> int:
        with self._connect() as conn:
            self._check(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.strip().split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                for table, column, kind in _ADDED:
                    if column not in _columns(conn, table):
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                cursor = conn.execute(
                    "INSERT INTO runs (created, git_commit, branch, dirty, machine_key, fingerprint, "
                    "tool_version, health) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run.created,
                        run.commit,
                        run.branch,
                        int(run.dirty),
                        run.machine_key,
                        json.dumps(run.fingerprint, sort_keys=True, default=str),
                        run.tool_version,
                        json.dumps(run.health, sort_keys=True, default=str),
                    ),
                )
                run_id = int(cursor.lastrowid or 0)
                conn.executemany(
                    "INSERT OR REPLACE INTO measurements (run_id, benchmark, median, iqr, n, p95, mean, "
                    "metrics, verdict, noisy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            run_id,
                            b.benchmark,
                            b.median,
                            b.iqr,
                            b.n,
                            b.p95,
                            b.mean,
                            json.dumps(b.metrics, sort_keys=True),
                            b.verdict,
                            int(b.noisy),
                        )
                        for b in run.benchmarks
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            return run_id

    # -- reading -----------------------------------------------------------------------------------
    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        if not self.path.is_file():
            raise HistoryError(self.path, "does not exist")
        return self._connect()

    def run_count(self, machine_key: str | None = None) -> int:
        try:
            with self._read() as conn:
                self._check(conn)
                if not _has_tables(conn):
                    return 0
                if machine_key is None:
                    row = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
                else:
                    row = conn.execute(
                        "SELECT COUNT(*) FROM runs WHERE machine_key = ?", (machine_key,)
                    ).fetchone()
                return int(row[0])
        except sqlite3.Error as exc:
            raise HistoryError(self.path, f"cannot be read ({exc})") from None

    def series(
        self,
        benchmarks: Iterable[str] | None = None,
        pattern: str | None = None,
        machine_key: str | None = None,
        limit: int | None = None,
    ) -> dict[tuple[str, str], list[SeriesPoint]]:
        """``{(machine key, benchmark): [points, oldest first]}``, the last ``limit`` runs of each.

        Only measurements with a time median appear. ``benchmarks`` restricts to those ids,
        ``pattern`` to matching ids (see ``match_benchmark``).
        """
        wanted = set(benchmarks) if benchmarks is not None else None
        out: dict[tuple[str, str], list[SeriesPoint]] = {}
        try:
            with self._read() as conn:
                self._check(conn)
                if not _has_tables(conn):
                    return out
                noisy = "m.noisy" if "noisy" in _columns(conn, "measurements") else "0"
                query = (
                    "SELECT r.id, r.created, r.git_commit, r.branch, r.machine_key, m.benchmark, m.median, "
                    f"m.iqr, m.n, r.dirty, {noisy} FROM measurements m JOIN runs r ON r.id = m.run_id "
                    "WHERE m.median IS NOT NULL"
                )
                args: list[str] = []
                if machine_key is not None:
                    query += " AND r.machine_key = ?"
                    args.append(machine_key)
                query += " ORDER BY r.id"
                for row in conn.execute(query, args):
                    benchmark = str(row[5])
                    if wanted is not None and benchmark not in wanted:
                        continue
                    if not match_benchmark(benchmark, pattern):
                        continue
                    point = SeriesPoint(
                        run_id=int(row[0]),
                        created=str(row[1]),
                        commit=str(row[2]),
                        branch=str(row[3]),
                        machine_key=str(row[4]),
                        median=float(row[6]),
                        iqr=float(row[7]) if row[7] is not None else None,
                        n=int(row[8]),
                        dirty=bool(row[9]),
                        noisy=bool(row[10]),
                    )
                    out.setdefault((point.machine_key, benchmark), []).append(point)
        except sqlite3.Error as exc:
            raise HistoryError(self.path, f"cannot be read ({exc})") from None
        if limit is not None:
            out = {k: v[-limit:] for k, v in out.items()}
        return out


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
    return bool(row and row[0])


def _looks_corrupt(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("malformed", "not a database", "corrupt", "no such", "no column"))
