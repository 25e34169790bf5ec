"""Response caches: in-memory LRU, SQLite on disk, Redis; keyed by :func:`~.evaluator.cache_key`.

Keys already combine the model fingerprint, the prompt and the generation settings, so two
models (or two temperatures) never share an entry. Values are stored as JSON text
(``{"v": response, "t": created}``), never pickled. Every layer supports a TTL and batched
``get_many``/``put_many``, which the evaluator uses.

The SQLite layer is safe with several processes writing at once: WAL journal, a busy timeout,
one short transaction per batch and a bounded retry on ``database is locked``. A file that is not
a readable database is reported (:class:`CacheWarning`), moved aside as ``*.corrupt-<time>`` and
rebuilt; the run goes on.
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

from .errors import EngineError

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


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteCache:
    """Responses in ``<directory>/responses.sqlite3`` (WAL), safe across threads and processes."""

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
        self._clock = clock
        self._local = threading.local()
        self._generation = 0  # bumped when the file is rebuilt: threads reopen
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheUnavailable(f"cannot create cache directory {self.directory}: {exc}") from None
        self._run(lambda con: con.execute("SELECT count(*) FROM responses").fetchone())

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.DatabaseError(f"cannot switch to WAL journal (got {mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute(_SCHEMA)
        return con

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        con: sqlite3.Connection | None = getattr(local, "con", None)
        if con is None or local.pid != os.getpid() or local.generation != self._generation:
            con = self._connect()
            local.con, local.pid, local.generation = con, os.getpid(), self._generation
        return con

    def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` with retries on lock contention; a corrupt file is moved aside and rebuilt."""
        rebuilt = False
        attempt = 0
        while True:
            try:
                return op(self._connection())
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    if attempt >= self.retries:
                        raise CacheUnavailable(
                            f"cache {self.path} stayed locked after {attempt + 1} attempts: {exc}"
                        ) from None
                    attempt += 1
                    time.sleep(min(1.0, 0.01 * 2**attempt) * random.uniform(0.5, 1.0))
                    continue
                if rebuilt:
                    raise CacheUnavailable(f"cache {self.path} is unusable: {exc}") from None
                self._rebuild(exc)
                rebuilt = True
            except sqlite3.DatabaseError as exc:
                if rebuilt:
                    raise CacheUnavailable(f"cache {self.path} is unusable: {exc}") from None
                self._rebuild(exc)
                rebuilt = True

    def _rebuild(self, exc: BaseException) -> None:
        with self._lock:
            con = getattr(self._local, "con", None)
            if con is not None:
                with contextlib.suppress(sqlite3.Error):
                    con.close()
                self._local.con = None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time() * 1000)}")
            moved = False
            if self.path.exists():
                try:
                    os.replace(self.path, aside)
                    moved = True
                except OSError:
                    pass
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.remove(f"{self.path}{suffix}")
            self._generation += 1
        where = f"moved aside to {aside.name} and " if moved else ""
        warnings.warn(
            f"response cache {self.path} was unreadable ({exc}); {where}rebuilt empty",
            CacheWarning,
            stacklevel=4,
        )

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
        if not rows:
            return

        def op(con: sqlite3.Connection) -> None:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

        self._run(op)

    def purge_expired(self) -> int:
        """Delete expired entries; returns how many."""
        now = self._clock()
        return self._run(
            lambda con: (
                con.execute(
                    "DELETE FROM responses WHERE expires IS NOT NULL AND expires < ?", (now,)
                ).rowcount
            )
        )

    def __len__(self) -> int:
        count = self._run(lambda con: con.execute("SELECT count(*) FROM responses").fetchone())
        return int(count[0]) if count else 0

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
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
            raise CacheUnavailable(f"redis cache {_safe_url(url)} does not answer: {exc}") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        try:
            values = self._client.mget([self.prefix + k for k in keys])
        except self._errors as exc:
            raise CacheUnavailable(f"redis cache {_safe_url(self.url)} failed: {exc}") from None
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
            raise CacheUnavailable(f"redis cache {_safe_url(self.url)} failed: {exc}") from None

    def close(self) -> None:
        self._client.close()


def _safe_url(url: str) -> str:
    """A Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


class TieredCache:
    """A fast front layer (memory) over a shared back layer (SQLite or Redis)."""

    def __init__(self, front: MemoryCache, back: SQLiteCache | RedisCache) -> None:
        self.front = front
        self.back = back
        self.name = f"{front.name}+{back.name}"

    def get(self, key: str) -> str | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[str | None]:
        out = self.front.get_many(keys)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            found = self.back.get_many([keys[i] for i in missing])
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
        self.back.put_many(items)
        self.front.put_many(items)

    def close(self) -> None:
        self.back.close()


def open_cache(
    spec: str,
    *,
    ttl: float | None = None,
    memory_items: int = 100_000,
    fallback_dir: str | Path | None = None,
) -> MemoryCache | TieredCache:
    """A cache from a spec: ``memory``, a directory (SQLite) or ``redis://...``.

    Disk and Redis caches get a memory LRU in front. A Redis URL that does not answer raises
    :class:`CacheUnavailable`, or, with ``fallback_dir``, warns and uses SQLite there instead.
    """
    if spec == "memory":
        return MemoryCache(memory_items, ttl)
    front = MemoryCache(memory_items, ttl)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            return TieredCache(front, RedisCache(spec, ttl))
        except CacheUnavailable as exc:
            if fallback_dir is None:
                raise
            warnings.warn(
                f"{exc}; falling back to the disk cache in {fallback_dir}", CacheWarning, stacklevel=2
            )
            return TieredCache(front, SQLiteCache(fallback_dir, ttl))
    return TieredCache(front, SQLiteCache(spec, ttl))
