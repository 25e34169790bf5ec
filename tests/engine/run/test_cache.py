from __future__ import annotations

import contextlib
import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_causal_eval.engine import (
    CacheUnavailable,
    CacheWarning,
    Evaluator,
    MemoryCache,
    Question,
    RedisCache,
    SQLiteCache,
    TieredCache,
    cache_key,
    create_model,
    generate,
    open_cache,
)

QS = generate("association", 40, seed=9)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    name = "counting"

    def __init__(self, fingerprint: str = "counting:v1") -> None:
        self.fingerprint = fingerprint
        self.asked = 0

    def generate(self, questions: Sequence[Question]) -> list[str]:
        self.asked += len(questions)
        return [q.answer for q in questions]


def test_memory_lru_and_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(max_items=2, ttl=10, clock=clock)
    cache.put("a", "1")
    cache.put("b", "2")
    assert cache.get("a") == "1"  # a is now most recent
    cache.put("c", "3")
    assert cache.get_many(["a", "b", "c"]) == ["1", None, "3"]
    clock.now += 11
    assert cache.get("a") is None and len(cache) == 1


def test_key_covers_fingerprint_prompt_and_settings() -> None:
    cache = MemoryCache()
    first, other = Counting("model-a"), Counting("model-b")
    Evaluator(first, cache=cache).run(QS)
    r = Evaluator(other, cache=cache).run(QS)  # same prompts, another model: no hits
    assert r.cache_hits == 0 and r.cache_misses == 40 and other.asked == 40
    r = Evaluator(first, cache=cache, generation_settings={"temperature": 1}).run(QS)
    assert r.cache_hits == 0
    r = Evaluator(first, cache=cache).run(QS)
    assert r.cache_hits == 40 and r.cache_misses == 0 and first.asked == 80
    assert r.to_dict()["cache_misses"] == 0
    assert cache_key("m", "p") != cache_key("m", "p2") != cache_key("m2", "p")


def test_sqlite_persists_as_json_with_ttl(tmp_path: Path) -> None:
    clock = Clock()
    cache = SQLiteCache(tmp_path, ttl=60, clock=clock)
    cache.put_many([("k1", "yes"), ("k2", "No, because")])
    cache.close()
    again = SQLiteCache(tmp_path, ttl=60, clock=clock)
    assert again.get_many(["k1", "k2", "k3"]) == ["yes", "No, because", None]
    with sqlite3.connect(tmp_path / "responses.sqlite3") as con:
        raw = dict(con.execute("SELECT key, value FROM responses").fetchall())
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    assert json.loads(raw["k2"])["v"] == "No, because" and mode == "wal"  # JSON text, never pickle
    clock.now += 61
    assert again.get("k1") is None and again.purge_expired() == 2
    again.close()


def test_evaluator_hits_on_disk_across_instances(tmp_path: Path) -> None:
    model = Counting()
    with contextlib.closing(open_cache(str(tmp_path))) as cache:
        first = Evaluator(model, batch_size=8, cache=cache).run(QS)
    with contextlib.closing(open_cache(str(tmp_path))) as cache:
        second = Evaluator(model, batch_size=5, cache=cache).run(QS)
    assert (first.cache_hits, first.cache_misses) == (0, 40)
    assert (second.cache_hits, second.cache_misses) == (40, 0) and model.asked == 40
    assert second.accuracy == first.accuracy == 1.0


def test_corrupt_file_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path)
    cache.put("k", "v")
    cache.close()
    (tmp_path / "responses.sqlite3").write_bytes(b"not a database at all " * 200)
    with pytest.warns(CacheWarning, match=r"unreadable .*moved aside to responses\.sqlite3\.corrupt-\d+"):
        rebuilt = SQLiteCache(tmp_path)
    assert rebuilt.get("k") is None
    rebuilt.put("k", "v2")
    assert rebuilt.get("k") == "v2"
    assert len(list(tmp_path.glob("responses.sqlite3.corrupt-*"))) == 1
    rebuilt.close()


def test_close_closes_the_connection_of_every_thread_that_used_the_cache(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path)
    both_in = threading.Barrier(2)

    def use(worker: int) -> None:  # two pool threads, each with its own connection
        cache.put(f"w{worker}", "yes")
        both_in.wait(timeout=10)

    wal = tmp_path / "responses.sqlite3-wal"
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(use, range(2)))
        assert wal.exists()
        cache.close()  # the pool's threads are still alive, and so would be their connections
        # SQLite removes the WAL file when the last connection to the database closes
        assert not wal.exists()
        assert pool.submit(cache.get, "w1").result() == "yes"  # a closed cache reopens on use
    assert cache.get("w0") == "yes"
    cache.close()
    assert not wal.exists()


def test_a_fallback_that_fails_too_is_closed(tmp_path: Path) -> None:
    class Broken(SQLiteCache):
        closed = 0

        def put_many(self, items: object) -> None:
            raise CacheUnavailable("the fallback disk is full")

        def close(self) -> None:
            Broken.closed += 1
            super().close()

    class Failing(MemoryCache):
        name = "failing"

        def get_many(self, keys: Sequence[str]) -> list[str | None]:
            raise CacheUnavailable("the shared cache went away")

    cache = TieredCache(MemoryCache(), Failing(), lambda: Broken(tmp_path))
    with pytest.warns(CacheWarning, match="the fallback failed too"):
        assert cache.get("k") is None
    assert Broken.closed == 1 and cache.back is None


def _writer(directory: str, worker: int, rounds: int) -> None:
    cache = SQLiteCache(directory, busy_timeout_s=10)
    for r in range(rounds):
        cache.put_many([(f"w{worker}-r{r}-{i}", f"{worker}:{r}:{i}") for i in range(20)])
        assert cache.get(f"w{worker}-r{r}-0") == f"{worker}:{r}:0"
    cache.close()


@pytest.mark.slow
def test_several_processes_write_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]  # no "database is locked"
    with contextlib.closing(SQLiteCache(tmp_path)) as cache:
        assert len(cache) == 4 * 40 * 20
        assert cache.get("w3-r39-19") == "3:39:19"


def test_redis_cache_roundtrip_and_ttl(redis_url: str) -> None:
    cache = RedisCache(redis_url, ttl=100, prefix="test-rt:")
    cache.put_many([("a", "yes"), ("b", "no")])
    assert cache.get_many(["a", "b", "c"]) == ["yes", "no", None]
    raw = cache._client.get("test-rt:a")
    assert json.loads(raw)["v"] == "yes" and 0 < cache._client.ttl("test-rt:a") <= 100
    model = Counting("redis-model")
    tiered = open_cache(redis_url)
    Evaluator(model, cache=tiered).run(QS)
    with contextlib.closing(open_cache(redis_url)) as fresh:  # a fresh memory layer: served by Redis
        r = Evaluator(model, cache=fresh).run(QS)
    tiered.close()
    cache.close()
    assert r.cache_hits == 40 and model.asked == 40


def test_redis_that_does_not_answer(tmp_path: Path) -> None:
    from pytest_causal_eval.engine import free_port

    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(
        CacheUnavailable, match=r"redis cache redis://\*\*\*@127\.0\.0\.1:\d+/0 does not answer"
    ) as info:
        open_cache(url)
    assert "secret" not in str(info.value)
    with pytest.warns(CacheWarning, match="falling back to the disk cache"):
        cache = open_cache(url, fallback_dir=tmp_path)
    cache.put("k", "v")
    assert cache.get("k") == "v" and (tmp_path / "responses.sqlite3").exists()
    cache.close()


def test_errors_are_not_cached() -> None:
    class Once:
        name = "once"
        fingerprint = "once"
        calls = 0

        def generate(self, questions: Sequence[Question]) -> list[str]:
            Once.calls += 1
            if Once.calls == 1:
                raise TimeoutError("first call fails")
            return [q.answer for q in questions]

    cache = MemoryCache()
    first = Evaluator(Once(), batch_size=40, cache=cache, max_error_rate=1.0).run(QS)
    second = Evaluator(Once(), batch_size=40, cache=cache).run(QS)
    assert first.errors == 40 and second.errors == 0 and second.cache_misses == 40
    assert create_model("oracle").fingerprint == "oracle:v1"
