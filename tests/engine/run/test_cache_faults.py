"""A cache that fails mid-run costs hits, never results: one warning, and the run finishes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.engine import (
    CacheWarning,
    Evaluator,
    MemoryCache,
    Question,
    SQLiteCache,
    TieredCache,
    generate,
    open_cache,
)
from pytest_causal_eval.engine.models.registry import MODELS

from ..services import RedisServer

QS = generate("association", 200, seed=21)


class Saboteur:
    """Answers every question right; before batch ``at`` it runs ``act`` (kills the cache's server)."""

    name = "saboteur"

    def __init__(self, act: Callable[[], None], at: int = 3, fingerprint: str = "saboteur:v1") -> None:
        self.act = act
        self.at = at
        self.fingerprint = fingerprint
        self.calls = 0

    def generate(self, questions: Sequence[Question]) -> list[str]:
        self.calls += 1
        if self.calls == self.at:
            self.act()
        return [q.answer for q in questions]


def _cache_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, CacheWarning)]


def test_redis_killed_mid_run_falls_back_to_disk_once_and_keeps_everything(
    doomed_redis: RedisServer, tmp_path: Path
) -> None:
    fallback = tmp_path / "fallback"
    cache = open_cache(doomed_redis.url, fallback_dir=fallback)
    model = Saboteur(doomed_redis.kill, at=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Evaluator(model, batch_size=20, cache=cache).run(QS)
    (message,) = _cache_warnings(caught)  # one warning, however many batches follow
    assert (
        "redis cache redis://127.0.0.1" in message
        and f"continuing with the disk cache in {fallback}" in message
    )
    assert result.n == 200 and result.accuracy == 1.0 and result.errors == 0
    assert result.cache_misses == 200 and list(result.notes) == [message]
    assert cache.back is not None and cache.back.name == "sqlite"
    cache.close()
    # every response of the run is on disk: the 3 batches answered before the crash were copied over
    with contextlib.closing(SQLiteCache(fallback)) as disk:
        assert len(disk) == 200
    with contextlib.closing(open_cache(str(fallback))) as reopened:
        again = Evaluator(Saboteur(lambda: None), batch_size=20, cache=reopened).run(QS)
    assert again.cache_hits == 200 and again.accuracy == 1.0


def test_redis_killed_mid_run_without_fallback_goes_on_in_memory(doomed_redis: RedisServer) -> None:
    cache = open_cache(doomed_redis.url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Evaluator(Saboteur(doomed_redis.kill, at=2), batch_size=25, cache=cache).run(QS)
        second = Evaluator(Saboteur(lambda: None), batch_size=25, cache=cache).run(QS)
    (message,) = _cache_warnings(caught)
    assert "continuing with the in-memory cache only" in message
    assert result.n == 200 and result.accuracy == 1.0
    assert second.cache_hits == 200  # this run's answers are still served from memory
    cache.close()


def test_cli_evaluate_finishes_when_redis_dies(
    doomed_redis: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(MODELS, "saboteur", lambda at=3: Saboteur(doomed_redis.kill, at=int(at)))
    rows = tmp_path / "rows.jsonl"
    code = main(
        ["evaluate", "--model", "saboteur", "--model-arg", "at=3", "--task", "association", "-n", "120",
         "--batch-size", "10", "--cache", doomed_redis.url, "--cache-fallback", str(tmp_path / "fb"),
         "--output", str(rows), "--json"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == 120 and data["accuracy"] == 1.0 and data["errors"] == 0
    assert len(rows.read_text().splitlines()) == 120
    warned = [line for line in err.splitlines() if line.startswith("causal-eval: warning:")]
    assert len(warned) == 1 and "continuing with the disk cache" in warned[0], err
    with contextlib.closing(SQLiteCache(tmp_path / "fb")) as disk:
        assert len(disk) == 120


def test_disk_cache_locked_mid_run_is_given_up_once(tmp_path: Path) -> None:
    back = SQLiteCache(tmp_path, busy_timeout_s=0.05, retries=1)
    holder = sqlite3.connect(back.path, isolation_level=None)

    def lock() -> None:  # another process keeps a write transaction open
        holder.execute("BEGIN IMMEDIATE")

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = Evaluator(
                Saboteur(lock, at=3), batch_size=20, cache=TieredCache(MemoryCache(), back)
            ).run(QS)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        back.close()
    (message,) = _cache_warnings(caught)
    assert "stayed locked" in message and "in-memory cache only" in message
    assert result.n == 200 and result.accuracy == 1.0
    with contextlib.closing(SQLiteCache(tmp_path)) as disk:
        assert len(disk) == 40  # the batches stored before the lock are intact


class Flaky:
    """A user's own cache (no TieredCache around it) that breaks after two writes."""

    name = "flaky"

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.writes = 0

    def get(self, key: str) -> str | None:
        if self.writes >= 2:
            raise ConnectionError("cache server went away")
        return self.data.get(key)

    def put(self, key: str, value: str) -> None:
        self.writes += 1
        self.data[key] = value


def test_any_cache_that_raises_mid_run_is_dropped_with_one_warning(tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    with pytest.warns(CacheWarning, match=r"response cache flaky failed to read \(ConnectionError") as caught:
        result = Evaluator(Saboteur(lambda: None), batch_size=10, cache=Flaky()).run(QS, output_jsonl=out)
    assert len(_cache_warnings(list(caught))) == 1
    assert result.n == 200 and result.accuracy == 1.0 and len(out.read_text().splitlines()) == 200


def test_redis_that_stops_answering_mid_run_is_given_up_after_its_timeout(doomed_redis: RedisServer) -> None:
    cache = open_cache(doomed_redis.url)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stop = Saboteur(lambda: os.kill(doomed_redis.proc.pid, signal.SIGSTOP), at=2)
            result = Evaluator(stop, batch_size=50, cache=cache).run(QS)
    finally:
        os.kill(doomed_redis.proc.pid, signal.SIGCONT)
        cache.close()
    (message,) = _cache_warnings(caught)
    assert "Timeout" in message and "in-memory cache only" in message
    assert result.n == 200 and result.accuracy == 1.0
