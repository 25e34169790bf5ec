"""Response caches: in-memory LRU, SQLite on disk, Redis; keyed by :func:`~.evaluator.cache_key`.

Keys already combine the model fingerprint, the prompt and the generation settings, so two
models (or two temperatures) never share an entry. Values are stored as JSON text
(``{"v": response, "t": created}``), never pickled. Every layer supports a TTL and batched
``get_many``/``put_many``, which the evaluator uses.

The SQLite layer is safe with several processes writing at once: WAL journal, a busy timeout,
one short transaction per batch and a bounded retry on ``database is locked``. A file that is not
a database (corrupt) is reported (:class:`CacheWarning`), moved aside with its ``-wal``/``-shm`` as
``*.corrupt-<time>`` and rebuilt; the run goes on. A database that cannot be written (a read-only
file or directory) is never moved or touched: it is opened read-only and used for lookups, with one
warning saying new responses are not stored. Any other failure (disk I/O, a lock held too long)
raises :class:`CacheUnavailable`.

A cache is an optimisation, so a shared layer that fails mid-run (Redis goes away, the disk cache
stays locked) does not end the run: :class:`TieredCache` warns once and continues with its
fallback disk cache when it has one (this run's responses are copied there), else with its
in-memory layer only.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pytest_causal_eval.engine.errors import EngineError
from pytest_causal_eval.engine.redaction import redact

__all__ = [
    "CacheUnavailable",
    "CacheWarning",
    "MemoryCache",
    "RedisCache",
    "SQLiteCache",
    "TieredCache",
    "open_cache",
]

T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cache problem the run survived (corrupt file moved aside, Redis fallback)."""


class CacheUnavailable(EngineError):
    """A cache that cannot be used at all (e.g. a Redis URL that does not answer)."""


def _encode(value: str, now: float) -> str:
    return json.dumps({"v": value, "t": now}, ensure_ascii=False, separators=(",", ":"))


def _decode(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    value = obj.get("v") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _check_ttl(ttl: float | None) -> float | None:
    if ttl is not None and ttl <= 0:
        raise EngineError(f"cache ttl must be positive seconds, got {ttl}")
    return ttl


class MemoryCache:
    """A thread-safe LRU of at most ``max_items`` entries, with an optional TTL in seconds."""

    name = "memory"

    def __init__(
        self, max_items: int = 100_000, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_items < 1:
            raise EngineError(f"memory cache max_items must be >= 1, got {max_items}")
        self.max_items = max_items
        self.ttl = _check_ttl(ttl)
        self._clock = clock
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        now = self._clock()
        out: list[str | None] = []
        with self._lock:
            data = self._data
            for key in keys:
                item = data.get(key)
                if item is None:
                    out.append(None)
                elif item[1] < now:
                    del data[key]
                    out.append(None)
                else:
                    data.move_to_end(key)
                    out.append(item[0])
        return out

    def put(self, key: str, value: str) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        expires = self._clock() + self.ttl if self.ttl is not None else float("inf")
        with self._lock:
            data = self._data
            for key, value in items:
                data[key] = (str(value), expires)
                data.move_to_end(key)
            while len(data) > self.max_items:
                data.popitem(last=False)

    def items(self) -> list[tuple[str, str]]:
        """The entries that have not expired, oldest first."""
        now = self._clock()
        with self._lock:
            return [(key, value) for key, (value, expires) in self._data.items() if expires >= now]

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires REAL
) WITHOUT ROWID
"""
_CHUNK = 500  # keys per SELECT (well under SQLite's variable limit)
_SIDE_FILES = ("-wal", "-shm")

# SQLite primary result codes (an extended code keeps its primary code in the low byte).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 14, 26


def _failure_kind(exc: sqlite3.Error) -> str:
    """``locked``, ``readonly``, ``corrupt``, ``cantopen`` or ``other`` for an SQLite error."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int):
        primary = code & 0xFF
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return "locked"
        if primary == _SQLITE_READONLY:
            return "readonly"
        if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return "corrupt"
        if primary == _SQLITE_CANTOPEN:
            return "cantopen"
        return "other"
    text = str(exc).lower()  # Python 3.10: only the message tells
    if "locked" in text or "busy" in text:
        return "locked"
    if "readonly" in text or "read-only" in text:
        return "readonly"
    if "not a database" in text or "malformed" in text:
        return "corrupt"
    if "unable to open" in text:
        return "cantopen"
    return "other"


class _ReadOnly(Exception):
    """Raised inside :meth:`SQLiteCache._run` when a write meets a database it cannot write."""


class SQLiteCache:
    """Responses in ``<directory>/responses.sqlite3`` (WAL), safe across threads and processes.

    ``read_only`` is True when the database cannot be written (read-only file or directory): it is
    then used for lookups only and :meth:`put_many` stores nothing. ``notes`` holds every warning
    this cache gave.
    """

    name = "sqlite"
    FILENAME = "responses.sqlite3"

    def __init__(
        self,
        directory: str | Path,
        ttl: float | None = None,
        busy_timeout_s: float = 30.0,
        retries: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.path = self.directory / self.FILENAME
        self.ttl = _check_ttl(ttl)
        self.busy_timeout_s = busy_timeout_s
        self.retries = retries
        self.read_only = False
        self.notes: list[str] = []
        self._read_only_note: str | None = None  # said once the read-only database has answered
        self._clock = clock
        self._local = threading.local()
        self._generation = 0  # bumped when the file is rebuilt or reopened read-only: threads reopen
        self._lock = threading.Lock()
        # every connection this object opened, in any thread, and the process that opened it: close()
        # closes them all (a thread's connection would otherwise stay open until that thread ends)
        self._opened: dict[sqlite3.Connection, int] = {}
        self._opened_lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheUnavailable(f"cannot create cache directory {self.directory}: {exc}") from None
        if self.path.exists() and not os.access(self.path, os.W_OK):
            self._use_read_only("the file is not writable")
        try:
            self._run(lambda con: con.execute("SELECT count(*) FROM responses").fetchone())
        except BaseException:
            self.close()  # the caller gets no object to close
            raise

    def describe(self) -> str:
        return f"disk cache {self.path}"

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        # check_same_thread=False: each thread still uses only its own connection, but close() may
        # close another thread's
        con = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise CacheUnavailable(
                    f"cache {self.path}: the file system does not support SQLite's WAL journal (got {mode})"
                )
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute(_SCHEMA)
        except BaseException:
            con.close()
            raise
        return con

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open without writing anything: ``mode=ro``, or ``immutable=1`` where even the WAL index
        cannot be created (a read-only directory)."""
        uri = self.path.resolve().as_uri()
        last: sqlite3.Error | None = None
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            con = sqlite3.connect(
                uri + query,
                uri=True,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                con.execute("SELECT count(*) FROM responses").fetchone()
            except sqlite3.Error as exc:
                con.close()
                last = exc
                continue
            return con
        assert last is not None
        raise last

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        con: sqlite3.Connection | None = getattr(local, "con", None)
        if con is None or local.pid != os.getpid() or local.generation != self._generation:
            if con is not None and getattr(local, "pid", None) == os.getpid():
                self._close(con)
            con = self._connect()
            with self._opened_lock:
                self._opened[con] = os.getpid()
            local.con, local.pid, local.generation = con, os.getpid(), self._generation
        return con

    def _close(self, con: sqlite3.Connection) -> None:
        with self._opened_lock:
            self._opened.pop(con, None)
        with contextlib.suppress(sqlite3.Error):
            con.close()

    def _run(self, op: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """Run ``op`` with retries on lock contention.

        A corrupt file is moved aside and rebuilt (once); a database that cannot be written is
        switched to read-only use (a write ``op`` then raises :class:`_ReadOnly`); anything else
        raises :class:`CacheUnavailable`.
        """
        rebuilt = False
        attempt = 0
        while True:
            if write and self.read_only:
                raise _ReadOnly
            try:
                result = op(self._connection())
            except sqlite3.Error as exc:
                kind = _failure_kind(exc)
                if kind == "locked":
                    if attempt >= self.retries:
                        raise CacheUnavailable(
                            f"cache {self.path} stayed locked after {attempt + 1} attempts: {exc}"
                        ) from None
                    attempt += 1
                    time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.0))
                    continue
                if kind == "readonly" and not self.read_only:
                    dir_ro = not os.access(self.directory, os.W_OK)
                    self._use_read_only("the directory is not writable" if dir_ro else str(exc))
                    continue
                if kind == "corrupt" and not rebuilt and not self.read_only:
                    self._rebuild(exc)
                    rebuilt = True
                    continue
                if kind == "corrupt":
                    raise CacheUnavailable(f"cache {self.path} is not a usable database: {exc}") from None
                if kind == "cantopen" and not self.path.exists() and not os.access(self.directory, os.W_OK):
                    raise CacheUnavailable(
                        f"cache directory {self.directory} holds no cache yet and is not writable"
                    ) from None
                unreadable = self.path.is_file() and not os.access(self.path, os.R_OK)
                hint = " (the file is not readable)" if unreadable else ""
                raise CacheUnavailable(f"cache {self.path} cannot be used: {exc}{hint}") from None
            if self._read_only_note is not None:
                note, self._read_only_note = self._read_only_note, None
                self._note(note)
            return result

    def _drop_connection(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            if getattr(self._local, "pid", None) == os.getpid():
                self._close(con)
            self._local.con = None

    def _use_read_only(self, reason: str) -> None:
        with self._lock:
            if self.read_only:
                return
            self._drop_connection()
            self.read_only = True
            self._generation += 1
        self._read_only_note = (
            f"response cache {self.path} is read-only ({reason}): it is used for lookups only and "
            "new responses are not stored"
        )

    def _rebuild(self, exc: BaseException) -> None:
        """Move a corrupt database aside, with its WAL and index files, and start an empty one."""
        with self._lock:
            self._drop_connection()
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time() * 1000)}")
            try:
                os.replace(self.path, aside)
            except FileNotFoundError:
                pass
            except OSError as move_error:
                raise CacheUnavailable(
                    f"cache {self.path} is not a readable database ({exc}) and cannot be moved aside "
                    f"({move_error.strerror or move_error}); it was left as it is"
                ) from None
            for suffix in _SIDE_FILES:  # they belong to the moved file: keep them beside it
                with contextlib.suppress(OSError):
                    os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
            self._generation += 1
        self._note(
            f"response cache {self.path} was unreadable ({exc}); "
            f"moved aside to {aside.name} and rebuilt empty"
        )

    def _note(self, message: str) -> None:
        self.notes.append(message)
        warnings.warn(message, CacheWarning, stacklevel=5)

    # ------------------------------------------------------------------ API
    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        now = self._clock()

        def op(con: sqlite3.Connection) -> dict[str, tuple[str, float | None]]:
            found: dict[str, tuple[str, float | None]] = {}
            for i in range(0, len(keys), _CHUNK):
                chunk = list(keys[i : i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    f"SELECT key, value, expires FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, value, expires in rows:
                    found[key] = (value, expires)
            return found

        found = self._run(op)
        out: list[str | None] = []
        for key in keys:
            item = found.get(key)
            if item is None or (item[1] is not None and item[1] < now):
                out.append(None)
            else:
                out.append(_decode(item[0]))
        return out

    def put(self, key: str, value: str) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        now = self._clock()
        expires = now + self.ttl if self.ttl is not None else None
        rows = [(key, _encode(str(value), now), expires) for key, value in items]
        if not rows or self.read_only:
            return

        def op(con: sqlite3.Connection) -> None:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

        with contextlib.suppress(_ReadOnly):
            self._run(op, write=True)

    def purge_expired(self) -> int:
        """Delete expired entries; returns how many (0 for a read-only cache)."""
        now = self._clock()
        try:
            return self._run(
                lambda con: (
                    con.execute(
                        "DELETE FROM responses WHERE expires IS NOT NULL AND expires < ?", (now,)
                    ).rowcount
                ),
                write=True,
            )
        except _ReadOnly:
            return 0

    def __len__(self) -> int:
        count = self._run(lambda con: con.execute("SELECT count(*) FROM responses").fetchone())
        return int(count[0]) if count else 0

    def close(self) -> None:
        """Close the connections of every thread that used this cache (a later use reopens).

        Connections another process inherited (a fork) are left to the process that opened them."""
        pid = os.getpid()
        with self._lock:
            self._generation += 1  # a thread whose connection is closed here opens a new one
            with self._opened_lock:
                mine = [con for con, owner in self._opened.items() if owner == pid]
                self._opened = {con: owner for con, owner in self._opened.items() if owner != pid}
        for con in mine:
            with contextlib.suppress(sqlite3.Error):
                con.close()
        self._local.con = None


class RedisCache:
    """Responses in Redis under ``prefix`` + key; TTL via ``SET ... EX``. Checked with PING at start."""

    name = "redis"

    def __init__(
        self,
        url: str,
        ttl: float | None = None,
        prefix: str = "causal-eval:response:",
        timeout_s: float = 2.0,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise CacheUnavailable("a redis:// cache needs the redis client: pip install redis") from None
        self.url = url
        self.ttl = _check_ttl(ttl)
        self.prefix = prefix
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
            self._client.ping()
        except (redis.RedisError, ValueError, OSError) as exc:
            raise CacheUnavailable(f"redis cache {redact(url)} does not answer: {exc}") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def describe(self) -> str:
        return f"redis cache {redact(self.url)}"

    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        try:
            values = self._client.mget([self.prefix + k for k in keys])
        except self._errors as exc:
            raise CacheUnavailable(f"redis cache {redact(self.url)} failed: {exc}") from None
        return [_decode(v) for v in values]

    def put(self, key: str, value: str) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        now = time.time()
        ex = None if self.ttl is None else max(1, round(self.ttl))
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, value in items:
                pipe.set(self.prefix + key, _encode(str(value), now), ex=ex)
            pipe.execute()
        except self._errors as exc:
            raise CacheUnavailable(f"redis cache {redact(self.url)} failed: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._client.close()


class TieredCache:
    """A fast front layer (memory) over a shared back layer (SQLite or Redis).

    The back layer is an optimisation: when it fails (:class:`CacheUnavailable`, e.g. Redis went
    away mid-run) the cache warns once and goes on with ``fallback()`` (a disk cache, which gets a
    copy of the front layer's entries so this run's responses are kept) or, without a fallback or
    when that fails too, with the front layer alone. ``notes`` holds the warnings given.
    """

    def __init__(
        self,
        front: MemoryCache,
        back: SQLiteCache | RedisCache,
        fallback: Callable[[], SQLiteCache] | None = None,
    ) -> None:
        self.front = front
        self.back: SQLiteCache | RedisCache | None = back
        self._fallback = fallback
        self.name = f"{front.name}+{back.name}"
        self._notes: list[str] = []

    @property
    def notes(self) -> list[str]:
        back_notes = getattr(self.back, "notes", None) or []
        return [*self._notes, *back_notes]

    def _back_failed(self, exc: CacheUnavailable) -> None:
        failed, self.back = self.back, None
        if failed is not None:
            with contextlib.suppress(Exception):
                failed.close()
            if isinstance(failed, SQLiteCache):
                self._notes.extend(failed.notes)
        factory, self._fallback = self._fallback, None
        memory_only = (
            "continuing with the in-memory cache only for the rest of the run (new responses are not shared)"
        )
        failure = str(exc).rstrip(". ")
        if factory is None:
            message = f"{failure}; {memory_only}"
        else:
            replacement: SQLiteCache | None = None
            try:
                replacement = factory()
                replacement.put_many(self.front.items())
            except CacheUnavailable as fallback_error:
                if replacement is not None:
                    replacement.close()
                message = f"{failure}; the fallback failed too ({fallback_error}); {memory_only}"
            else:
                self.back = replacement
                self.name = f"{self.front.name}+{replacement.name}"
                message = (
                    f"{failure}; continuing with the disk cache in {replacement.directory} "
                    f"(this run's {len(self.front)} responses so far were copied there)"
                )
        self._notes.append(message)
        warnings.warn(message, CacheWarning, stacklevel=4)

    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        out = self.front.get_many(keys)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing and self.back is not None:
            try:
                found = self.back.get_many([keys[i] for i in missing])
            except CacheUnavailable as exc:
                self._back_failed(exc)
                return out
            promote: list[tuple[str, str]] = []
            for i, value in zip(missing, found, strict=True):
                if value is not None:
                    out[i] = value
                    promote.append((keys[i], value))
            self.front.put_many(promote)
        return out

    def put(self, key: str, value: str) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Iterable[tuple[str, str]]) -> None:
        items = list(items)
        self.front.put_many(items)  # first: whatever happens to the back layer, this run keeps them
        if self.back is not None:
            try:
                self.back.put_many(items)
            except CacheUnavailable as exc:
                self._back_failed(exc)

    def close(self) -> None:
        if self.back is not None:
            self.back.close()


def open_cache(
    spec: str,
    *,
    ttl: float | None = None,
    memory_items: int = 100_000,
    fallback_dir: str | Path | None = None,
) -> MemoryCache | TieredCache:
    """A cache from a spec: ``memory``, a directory (SQLite) or ``redis://...``.

    Disk and Redis caches get a memory LRU in front. A shared cache that cannot be used at start
    raises :class:`CacheUnavailable`, or, with ``fallback_dir``, warns and uses SQLite there
    instead; one that fails mid-run warns once and goes on with SQLite in ``fallback_dir`` or, without
    it, with the memory layer only (see :class:`TieredCache`).
    """
    if spec == "memory":
        return MemoryCache(memory_items, ttl)
    front = MemoryCache(memory_items, ttl)
    fallback = None
    if fallback_dir is not None:
        where = fallback_dir

        def fallback() -> SQLiteCache:
            return SQLiteCache(where, ttl)

    try:
        if spec.startswith(("redis://", "rediss://", "unix://")):
            back: SQLiteCache | RedisCache = RedisCache(spec, ttl)
        else:
            back = SQLiteCache(spec, ttl)
    except CacheUnavailable as exc:
        if fallback is None:
            raise
        failure = str(exc).rstrip(". ")
        warnings.warn(
            f"{failure}; falling back to the disk cache in {fallback_dir}", CacheWarning, stacklevel=2
        )
        return TieredCache(front, fallback())
    return TieredCache(front, back, fallback)
