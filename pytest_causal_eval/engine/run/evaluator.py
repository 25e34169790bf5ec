"""The serial evaluator: stream questions, batch them, call a model, score as you go.

Extension points for other executors and caching:

* :class:`~.executors.Executor` - ``map_batches(model, batches)`` yields one
  :class:`~.executors.BatchOutcome` per batch (answers or the error the call raised, and its
  latency). :class:`~.executors.SerialExecutor` calls the model in the current thread;
  thread/process/async executors may run batches concurrently but must yield outcomes in input
  order.
  ``Evaluator(executor="thread", workers=2)`` builds one by name (serial, thread, process,
  async, ray: see :mod:`.executors`) and closes it after the run.
* :class:`ResponseCache` - ``get``/``put`` keyed by :func:`cache_key` (model fingerprint +
  prompt + generation settings). The evaluator consults it before the executor runs a batch and
  sends only the misses to the model (``get_many``/``put_many`` are used when a cache has them).
  Hits and misses are counted in the result. A cache is an optimisation: one that raises mid-run
  is reported once (:class:`~.cache.CacheWarning`) and the run goes on without it; every result
  computed so far is kept.
* Per-question failures: a model may raise :class:`~.failures.PartialFailure` to report that some
  questions of a batch failed; those are recorded as errors and the other answers are kept.
  Errors are counted apart (count and rate); accuracy is computed on the answered questions.
  Error texts pass through :func:`~.redaction.redact` before they are written or raised.

Memory stays flat in the number of questions: scoring keeps running counts, latency uses a
fixed-size reservoir, and per-question records go straight to a JSONL writer when requested.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, Protocol, TypedDict, runtime_checkable

from pytest_causal_eval.engine.data.extraction import EXTRACTION_MODES, extract_answer
from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import (
    EngineError,
    ErrorRateExceeded,
    ModelOutputError,
    UnknownNameError,
)
from pytest_causal_eval.engine.models.base import Model
from pytest_causal_eval.engine.models.failures import PartialFailure
from pytest_causal_eval.engine.redaction import redact
from pytest_causal_eval.engine.run.executors import (
    BatchOutcome,
    Executor,
    SerialExecutor,
    create_executor,
    executor_names,
)
from pytest_causal_eval.engine.run.quantiles import LatencyStats, LatencySummary
from pytest_causal_eval.engine.run.scoring import GroupStats, Scoreboard
from pytest_causal_eval.engine.run.writers import JsonlWriter

__all__ = ["EvalResult", "EvalSettings", "Evaluator", "ResponseCache", "batched", "cache_key"]


def batched(items: Iterable[Question], size: int) -> Iterator[list[Question]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@runtime_checkable
class ResponseCache(Protocol):
    """Stores model responses by :func:`cache_key`."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


def cache_key(fingerprint: str, prompt: str, settings: Mapping[str, Any] | None = None) -> str:
    """A stable key for one response: model fingerprint, prompt and generation settings."""
    payload = json.dumps([fingerprint, prompt, dict(settings or {})], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Pending:
    """A batch waiting for its model call: cached answers found so far, indices still missing."""

    batch: list[Question]
    keys: list[str] | None
    found: list[str | None]
    missing: list[int]


class _CacheGuard:
    """The run's view of its cache: batched when the cache can, and given up (with one warning)
    when it raises, so a failing cache costs hits, never results."""

    def __init__(self, cache: ResponseCache | None) -> None:
        self.cache = cache
        self.own = cache
        self._given = len(self._cache_notes())  # what the cache said before this run
        self._notes: list[str] = []

    def _cache_notes(self) -> list[str]:
        notes = getattr(self.own, "notes", None)
        return list(notes) if isinstance(notes, list) else []

    @property
    def notes(self) -> list[str]:
        """The warnings given during this run: the cache's own (fallback, read-only) and ours."""
        return [*self._cache_notes()[self._given :], *self._notes]

    def _failed(self, action: str, exc: Exception) -> None:
        from pytest_causal_eval.engine.run.cache import CacheWarning

        name = getattr(self.cache, "name", type(self.cache).__name__)
        message = redact(
            f"response cache {name} failed to {action} ({type(exc).__name__}: {exc}); "
            "continuing without a cache for the rest of the run"
        )
        self.cache = None
        self._notes.append(message)
        warnings.warn(message, CacheWarning, stacklevel=4)

    def get(self, keys: list[str]) -> list[str | None]:
        cache = self.cache
        if cache is None:
            return [None] * len(keys)
        try:
            get_many = getattr(cache, "get_many", None)
            values: list[str | None] = (
                list(get_many(keys)) if get_many is not None else [cache.get(k) for k in keys]
            )
        except Exception as exc:  # any cache failure: the model answers instead
            self._failed("read", exc)
            return [None] * len(keys)
        if len(values) != len(keys):
            self._failed("read", ModelOutputError(f"{len(values)} values for {len(keys)} keys"))
            return [None] * len(keys)
        return [v if isinstance(v, str) else None for v in values]

    def put(self, items: list[tuple[str, str]]) -> None:
        cache = self.cache
        if cache is None or not items:
            return
        try:
            put_many = getattr(cache, "put_many", None)
            if put_many is not None:
                put_many(items)
            else:
                for key, value in items:
                    cache.put(key, value)
        except Exception as exc:  # any cache failure: the answers are scored all the same
            self._failed("store", exc)


class EvalSettings(TypedDict, total=False):
    """The settings a run used: :attr:`EvalResult.settings` (the evaluator fills every key)."""

    batch_size: int
    executor: str
    workers: int
    extraction: str
    max_error_rate: float
    bootstrap_reps: int
    max_clusters: int
    seed: int
    generation: dict[str, Any]
    cache: str | None


@dataclass(frozen=True)
class EvalResult:
    """Everything a run measured. ``to_dict()`` is JSON-serializable."""

    model: str
    fingerprint: str
    overall: GroupStats
    bootstrap: tuple[float, float]
    breakdowns: dict[str, dict[str, GroupStats]]
    clusters: int
    clusters_folded: bool
    elapsed_s: float
    model_time_s: float
    latency: LatencySummary
    batches: int
    failed_batches: int
    cache_hits: int = 0
    settings: EvalSettings = field(default_factory=lambda: EvalSettings())
    cache_misses: int = 0
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Questions evaluated, answered or not."""
        return self.overall.n

    @property
    def answered(self) -> int:
        """Questions that got a response (all but the errors)."""
        return self.overall.answered

    @property
    def accuracy(self) -> float:
        """Accuracy over the answered questions (errors are counted apart: :attr:`error_rate`)."""
        return self.overall.accuracy

    @property
    def error_rate(self) -> float:
        """Fraction of all questions whose model call failed."""
        return self.overall.error_rate

    @property
    def wilson(self) -> tuple[float, float]:
        return self.overall.wilson

    @property
    def unparsed(self) -> int:
        return self.overall.unparsed

    @property
    def errors(self) -> int:
        return self.overall.errors

    @property
    def throughput(self) -> float:
        """Questions per second of wall time (question generation + model + scoring)."""
        return self.n / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fingerprint": self.fingerprint,
            **self.overall.to_dict(),
            "cluster_bootstrap_95": list(self.bootstrap),
            "clusters": self.clusters,
            "clusters_folded": self.clusters_folded,
            "breakdowns": {
                key: {name: stats.to_dict() for name, stats in groups.items()}
                for key, groups in self.breakdowns.items()
            },
            "elapsed_s": self.elapsed_s,
            "model_time_s": self.model_time_s,
            "throughput_qps": self.throughput,
            "latency": self.latency.to_dict(),
            "batches": self.batches,
            "failed_batches": self.failed_batches,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "notes": list(self.notes),
            "settings": self.settings,
        }


class Evaluator:
    """Evaluates a model on a stream of questions.

    ``max_error_rate``: the run raises :class:`ErrorRateExceeded` once the fraction of questions
    whose model call failed exceeds it (checked after ``min_error_sample`` questions and at the
    end). ``progress`` is called with the number of questions done after every batch.
    ``executor`` is an :class:`Executor` or a name (``serial``, ``thread``, ``process``, ``async``,
    ``ray``) built with ``workers`` and ``executor_options``; a named executor is closed after
    each run, a given one is left to its owner.
    """

    def __init__(
        self,
        model: Model,
        *,
        batch_size: int = 16,
        executor: Executor | str | None = None,
        workers: int | None = None,
        executor_options: Mapping[str, Any] | None = None,
        cache: ResponseCache | None = None,
        generation_settings: Mapping[str, Any] | None = None,
        extraction: str = "flexible",
        max_error_rate: float = 0.1,
        min_error_sample: int = 20,
        bootstrap_reps: int = 1000,
        seed: int = 0,
        latency_capacity: int = 4096,
        max_clusters: int = 8192,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise EngineError(f"batch size must be at least 1, got {batch_size}")
        if extraction not in EXTRACTION_MODES:
            raise EngineError(
                f"unknown extraction mode {extraction!r}; valid modes: {', '.join(EXTRACTION_MODES)}"
            )
        if not 0.0 <= max_error_rate <= 1.0:
            raise EngineError(f"max_error_rate must be within [0, 1], got {max_error_rate}")
        self.model = model
        self.batch_size = batch_size
        self.workers = workers
        self.executor_options = dict(executor_options or {})
        self.executor_name: str | None = None
        self.executor: Executor = SerialExecutor()
        if isinstance(executor, str):
            if executor not in executor_names():
                raise UnknownNameError("executor", executor, executor_names())
            self.executor_name = executor
        elif executor is not None:
            self.executor = executor
        self.cache = cache
        self.generation_settings = dict(generation_settings or {})
        self.extraction = extraction
        self.max_error_rate = max_error_rate
        self.min_error_sample = min_error_sample
        self.bootstrap_reps = bootstrap_reps
        self.seed = seed
        self.latency_capacity = latency_capacity
        self.max_clusters = max_clusters
        self.progress = progress

    def run(
        self,
        questions: Iterable[Question],
        n: int | None = None,
        *,
        output_jsonl: str | Path | IO[str] | None = None,
    ) -> EvalResult:
        """Evaluate on ``questions`` (the first ``n`` if given); optionally write per-question JSONL."""
        stream: Iterable[Question] = questions if n is None else islice(questions, n)
        executor = self.executor
        owned = None
        if self.executor_name is not None:
            owned = create_executor(self.executor_name, workers=self.workers, **self.executor_options)
            executor = owned
        try:
            return self._run(stream, executor, output_jsonl)
        finally:
            if owned is not None:
                owned.close()

    def _misses(
        self, stream: Iterable[Question], pending: deque[_Pending], cache: _CacheGuard
    ) -> Iterator[list[Question]]:
        """The questions the model must answer, batch by batch; cached answers wait in ``pending``."""
        fingerprint = self.model.fingerprint
        for batch in batched(stream, self.batch_size):
            if cache.cache is None:
                pending.append(_Pending(batch, None, [None] * len(batch), list(range(len(batch)))))
                yield batch
                continue
            keys = [cache_key(fingerprint, q.prompt, self.generation_settings) for q in batch]
            found = cache.get(keys)
            missing = [i for i, v in enumerate(found) if v is None]
            pending.append(_Pending(batch, keys, found, missing))
            yield [batch[i] for i in missing]

    def _run(
        self, stream: Iterable[Question], executor: Executor, output_jsonl: str | Path | IO[str] | None
    ) -> EvalResult:
        board = Scoreboard(max_clusters=self.max_clusters)
        latency = LatencyStats(self.latency_capacity, seed=self.seed)
        writer = JsonlWriter(output_jsonl) if output_jsonl is not None else None
        model_time = 0.0
        batches = failed = hits = misses = 0
        last_error: str | None = None
        pending: deque[_Pending] = deque()
        cache = _CacheGuard(self.cache)
        start = time.perf_counter()
        try:
            for outcome in executor.map_batches(self.model, self._misses(stream, pending, cache)):
                record = pending.popleft()
                batch = record.batch
                batches += 1
                model_time += outcome.latency_s
                latency.add(outcome.latency_s, len(batch))
                if record.keys is not None:  # the cache was asked (none configured: neither count)
                    hits += len(batch) - len(record.missing)
                    misses += len(record.missing)
                responses, errors = self._merge(record, outcome, cache)
                if outcome.error is not None:
                    failed += 1
                for i, q in enumerate(batch):
                    response = responses[i]
                    error_text = errors[i]
                    last_error = error_text or last_error
                    parsed = (
                        None if response is None else extract_answer(response, q.choices, self.extraction)
                    )
                    correct = parsed is not None and parsed == q.answer
                    board.add(
                        {"task": q.task, "rung": q.rung, "graph": q.graph},
                        q.cluster,
                        correct=correct,
                        unparsed=response is not None and parsed is None,
                        error=response is None,
                    )
                    if writer is not None:
                        writer.write(
                            {
                                "id": q.id,
                                "task": q.task,
                                "rung": q.rung,
                                "graph": q.graph,
                                "cluster": q.cluster,
                                "answer": q.answer,
                                "response": response,
                                "parsed": parsed,
                                "correct": correct,
                                "error": error_text,
                                "latency_s": outcome.latency_s,
                            }
                        )
                if writer is not None:
                    writer.flush()
                done = board.total.n
                if self.progress is not None:
                    self.progress(done)
                if done >= self.min_error_sample:
                    self._check_errors(board, last_error)
            if board.total.n:
                self._check_errors(board, last_error)
        finally:
            if writer is not None:
                writer.close()
        elapsed = time.perf_counter() - start
        return EvalResult(
            model=self.model.name,
            fingerprint=self.model.fingerprint,
            overall=GroupStats.from_tally(board.total),
            bootstrap=board.bootstrap(self.bootstrap_reps, self.seed),
            breakdowns=board.breakdowns(),
            clusters=board.n_clusters,
            clusters_folded=board.clusters_folded,
            elapsed_s=elapsed,
            model_time_s=model_time,
            latency=latency.summary(),
            batches=batches,
            failed_batches=failed,
            cache_hits=hits,
            cache_misses=misses,
            notes=tuple(cache.notes),
            settings={
                "batch_size": self.batch_size,
                "executor": getattr(executor, "name", type(executor).__name__),
                "workers": getattr(executor, "workers", 1),
                "extraction": self.extraction,
                "max_error_rate": self.max_error_rate,
                "bootstrap_reps": self.bootstrap_reps,
                "max_clusters": self.max_clusters,
                "seed": self.seed,
                "generation": self.generation_settings,
                "cache": None
                if self.cache is None
                else getattr(self.cache, "name", type(self.cache).__name__),
            },
        )

    def _merge(
        self, record: _Pending, outcome: BatchOutcome, cache: _CacheGuard
    ) -> tuple[list[str | None], list[str | None]]:
        """Per-question responses (None on failure) and error texts; fresh answers go to the cache."""
        responses: list[str | None] = list(record.found)
        errors: list[str | None] = [None] * len(responses)
        missing = record.missing
        fresh: list[str | None]
        if isinstance(outcome.error, PartialFailure) and len(outcome.error.responses) == len(missing):
            fresh = outcome.error.responses
            for i, err in zip(missing, outcome.error.errors, strict=True):
                if err is not None:
                    errors[i] = redact(f"{type(err).__name__}: {err}")
        elif outcome.error is not None:
            text = redact(f"{type(outcome.error).__name__}: {outcome.error}")
            fresh = [None] * len(missing)
            for i in missing:
                errors[i] = text
        else:
            answers = outcome.answers
            if answers is None or len(answers) != len(missing):
                got = "no list" if answers is None else f"{len(answers)} answers"
                raise ModelOutputError(
                    f"model {self.model.name!r} returned {got} for a batch of {len(missing)} questions"
                )
            fresh = list(answers)
        to_cache: list[tuple[str, str]] = []
        for i, value in zip(missing, fresh, strict=True):
            if value is not None and not isinstance(value, str):
                raise ModelOutputError(
                    f"model {self.model.name!r} returned a {type(value).__name__}, not a string"
                )
            responses[i] = value
            if value is not None and record.keys is not None:
                to_cache.append((record.keys[i], value))
        cache.put(to_cache)
        return responses, errors

    def _check_errors(self, board: Scoreboard, last_error: str | None) -> None:
        total = board.total
        rate = total.errors / total.n
        if rate > self.max_error_rate:
            detail = f"; last error: {last_error}" if last_error else ""
            raise ErrorRateExceeded(
                f"model {self.model.name!r} failed on {total.errors} of {total.n} questions "
                f"({rate:.1%} > max_error_rate {self.max_error_rate:.1%}){detail}"
            )
