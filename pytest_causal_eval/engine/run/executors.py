"""Executors for the evaluator: the protocol, and serial, thread, process, asyncio and Ray ones.

The protocol lives here, beside its implementations (the evaluator only consumes it):
:class:`Executor` - ``map_batches(model, batches)`` yields exactly one :class:`BatchOutcome` per
input batch, in input order, so results do not depend on the executor or the number of workers;
:func:`call_model` is one timed model call with its error captured. :func:`create_executor` builds
one by name: a :class:`ClosableExecutor` (``workers``, ``close()``, a context manager).
Concurrent executors keep a bounded window of batches in flight (``window``, default
``2 * workers``): memory stays flat however long the question stream is.

The process and Ray executors rebuild the model in each worker from its
:class:`~.registry.ModelSpec` (attached by :func:`~.registry.create_model`); a model without a spec
is sent pickled if it can be, otherwise the executor refuses it with a message saying so.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from pytest_causal_eval.engine.data.question import Question
from pytest_causal_eval.engine.errors import EngineError, UnknownNameError
from pytest_causal_eval.engine.models.base import Model
from pytest_causal_eval.engine.models.registry import ModelSpec, model_spec

__all__ = [
    "EXECUTORS",
    "AsyncExecutor",
    "BatchOutcome",
    "ClosableExecutor",
    "Executor",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "call_model",
    "create_executor",
    "executor_names",
]


# --------------------------------------------------------------------------- the protocol
@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The result of one model call on one batch: ``answers`` or the ``error`` raised."""

    batch: Sequence[Question]
    answers: list[str] | None
    latency_s: float
    error: BaseException | None = None


@runtime_checkable
class Executor(Protocol):
    """Runs model calls over a stream of batches; outcomes come back in input order."""

    name: str

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]: ...


_Self = TypeVar("_Self")


class ClosableExecutor(Executor, Protocol):
    """An executor that owns workers: what :func:`create_executor` builds (the caller closes it)."""

    workers: int

    def close(self) -> None: ...

    def __enter__(self: _Self) -> _Self: ...

    def __exit__(self, *exc: object) -> None: ...


def call_model(model: Model, batch: Sequence[Question]) -> BatchOutcome:
    """One timed model call; an exception is captured into the outcome, not raised.

    An empty batch (every question answered by the cache) does not call the model.
    """
    if not batch:
        return BatchOutcome(batch, [], 0.0)
    start = time.perf_counter()
    try:
        answers = model.generate(batch)
    except Exception as exc:  # any model failure is recorded and the run goes on
        return BatchOutcome(batch, None, time.perf_counter() - start, exc)
    return BatchOutcome(batch, answers, time.perf_counter() - start)


class SerialExecutor:
    """Calls the model on one batch at a time, in the calling thread (one worker, nothing to close)."""

    name = "serial"
    workers = 1

    def __init__(self, workers: int | None = None) -> None:
        if workers not in (None, 1):
            raise EngineError(f"the serial executor runs one worker, got workers={workers}")

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]:
        for batch in batches:
            yield call_model(model, batch)

    def close(self) -> None:
        pass

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- shared by the pools
def _ordered(
    batches: Iterable[Sequence[Question]],
    submit: Callable[[Sequence[Question]], Future[BatchOutcome]],
    window: int,
) -> Iterator[BatchOutcome]:
    """Submit batches keeping at most ``window`` in flight; yield outcomes in input order."""
    inflight: deque[Future[BatchOutcome]] = deque()
    try:
        for batch in batches:
            if not batch:
                done: Future[BatchOutcome] = Future()
                done.set_result(BatchOutcome(batch, [], 0.0))
                inflight.append(done)
            else:
                inflight.append(submit(batch))
            while len(inflight) >= window:
                yield inflight.popleft().result()
        while inflight:
            yield inflight.popleft().result()
    finally:
        for fut in inflight:  # the consumer stopped early (error-rate abort): drop the rest
            fut.cancel()


def _check_workers(workers: int | None, default: int) -> int:
    n = default if workers is None else int(workers)
    if n < 1:
        raise EngineError(f"workers must be at least 1, got {workers}")
    return n


def _default_workers() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    count = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, count)


# --------------------------------------------------------------------------- threads
class ThreadExecutor:
    """Batches run on a thread pool: for models that release the GIL (HTTP, torch, numpy)."""

    name = "thread"

    def __init__(self, workers: int | None = None, window: int | None = None) -> None:
        self.workers = _check_workers(workers, _default_workers())
        self.window = window or 2 * self.workers
        self._pool: ThreadPoolExecutor | None = None

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="causal-eval")
        pool = self._pool
        return _ordered(batches, lambda b: pool.submit(call_model, model, b), self.window)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ThreadExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- process workers
_WORKER_MODEL: Model | None = None


def _worker_init(payload: bytes, threads: int) -> None:
    global _WORKER_MODEL
    # ``threads`` compute threads per worker process: the workers are the parallelism
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")  # already imported (fork): set it directly; never import it here
    if torch is not None:
        torch.set_num_threads(threads)
    obj = pickle.loads(payload)
    _WORKER_MODEL = obj.build() if isinstance(obj, ModelSpec) else obj


def _worker_call(batch: Sequence[Question]) -> tuple[list[str] | None, float, BaseException | None]:
    if _WORKER_MODEL is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker model not initialized")
    outcome = call_model(_WORKER_MODEL, batch)
    error = outcome.error
    if error is not None:
        try:
            pickle.dumps(error)
        except Exception:  # an unpicklable exception: keep its type name and message
            error = EngineError(f"{type(error).__name__}: {error}")
    return outcome.answers, outcome.latency_s, error


def _model_payload(model: Model, executor: str) -> bytes:
    """What a worker rebuilds ``model`` from: its spec when it has one, else the model, pickled."""
    spec = model_spec(model)
    obj: ModelSpec | Model = spec if spec is not None else model
    try:
        return pickle.dumps(obj)
    except Exception as exc:
        raise EngineError(
            f"the {executor} executor cannot send model {model.name!r} to its workers: build it with "
            f"create_model(name, **options) so workers can rebuild it from that spec ({exc})"
        ) from None


def _default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class ProcessExecutor:
    """Batches run in worker processes, each holding its own copy of the model (CPU-bound models)."""

    name = "process"

    def __init__(
        self,
        workers: int | None = None,
        window: int | None = None,
        start_method: str | None = None,
        threads_per_worker: int = 1,
    ) -> None:
        self.workers = _check_workers(workers, _default_workers())
        self.window = window or 2 * self.workers
        self.start_method = start_method or _default_start_method()
        self.threads_per_worker = threads_per_worker
        self._pool: ProcessPoolExecutor | None = None
        self._payload: bytes | None = None

    def _ensure_pool(self, model: Model) -> ProcessPoolExecutor:
        payload = _model_payload(model, self.name)
        if self._pool is not None and payload == self._payload:
            return self._pool
        self.close()
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            ctx.set_forkserver_preload([__name__])
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(payload, self.threads_per_worker),
        )
        self._payload = payload
        return self._pool

    def warm_up(self, model: Model) -> None:
        """Start the workers and build their models now (so a timed run excludes start-up)."""
        pool = self._ensure_pool(model)
        for fut in [pool.submit(_worker_call, []) for _ in range(self.workers)]:
            fut.result()

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]:
        pool = self._ensure_pool(model)

        def submit(batch: Sequence[Question]) -> Future[BatchOutcome]:
            out: Future[BatchOutcome] = Future()
            try:
                inner = pool.submit(_worker_call, list(batch))
            except Exception as exc:  # a broken pool (a worker was killed): every batch fails
                out.set_result(BatchOutcome(batch, None, 0.0, exc))
                return out

            def done(f: Future[tuple[list[str] | None, float, BaseException | None]]) -> None:
                if f.cancelled():
                    out.cancel()
                    return
                exc = f.exception()
                if exc is not None:  # the worker died or the batch could not be sent
                    out.set_result(BatchOutcome(batch, None, 0.0, exc))
                    return
                answers, latency, error = f.result()
                out.set_result(BatchOutcome(batch, answers, latency, error))

            inner.add_done_callback(done)
            return out

        return _ordered(batches, submit, self.window)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._payload = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- asyncio
class AsyncExecutor:
    """Batches run as asyncio tasks on a private event loop (``workers`` = batches in flight).

    A model with an ``agenerate(questions)`` coroutine (the OpenAI-compatible client) is awaited
    directly; any other model runs in the loop's default thread pool.
    """

    name = "async"

    def __init__(self, workers: int | None = None, window: int | None = None) -> None:
        self.workers = _check_workers(workers, 8)
        self.window = window or self.workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sem: asyncio.Semaphore | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self._sem = asyncio.Semaphore(self.workers)
                ready.set()
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="causal-eval-async", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    async def _call(self, model: Model, batch: Sequence[Question]) -> BatchOutcome:
        assert self._sem is not None
        async with self._sem:
            agenerate = getattr(model, "agenerate", None)
            if agenerate is None:
                return await asyncio.to_thread(call_model, model, batch)
            start = time.perf_counter()
            try:
                answers = await agenerate(batch)
            except Exception as exc:
                return BatchOutcome(batch, None, time.perf_counter() - start, exc)
            return BatchOutcome(batch, list(answers), time.perf_counter() - start)

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]:
        loop = self._ensure_loop()

        def submit(batch: Sequence[Question]) -> Future[BatchOutcome]:
            return asyncio.run_coroutine_threadsafe(self._call(model, batch), loop)

        return _ordered(batches, submit, self.window)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> AsyncExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- Ray
class _RayWorker:
    """The body of a Ray actor: builds the model once, answers batches."""

    def __init__(self, payload: bytes) -> None:
        _worker_init(payload, 1)

    def call(self, batch: list[Question]) -> tuple[list[str] | None, float, BaseException | None]:
        return _worker_call(batch)


class RayExecutor:
    """Batches run on Ray actors (optional extra ``ray``), each holding its own model.

    ``address``: an existing cluster (``"auto"`` or ``"ray://host:10001"``); without it a local
    Ray is started with ``workers`` CPUs unless Ray is already initialized in this process.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, window: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise EngineError("the ray executor needs Ray: pip install 'pytest-causal-eval[ray]'") from None
        self._ray: Any = ray
        self.workers = _check_workers(workers, _default_workers())
        self.window = window or 2 * self.workers
        self.address = address
        self._actors: list[Any] = []
        self._payload: bytes | None = None
        self._started = False

    def _ensure_actors(self, model: Model) -> list[Any]:
        ray = self._ray
        payload = _model_payload(model, self.name)
        if self._actors and payload == self._payload:
            return self._actors
        self._kill_actors()
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            self._started = True
        actor = ray.remote(num_cpus=1)(_RayWorker)
        self._actors = [actor.remote(payload) for _ in range(self.workers)]
        self._payload = payload
        return self._actors

    def map_batches(self, model: Model, batches: Iterable[Sequence[Question]]) -> Iterator[BatchOutcome]:
        ray = self._ray
        actors = self._ensure_actors(model)
        pool = ThreadPoolExecutor(1, thread_name_prefix="causal-eval-ray")
        turn = iter(range(1 << 62))

        def submit(batch: Sequence[Question]) -> Future[BatchOutcome]:
            ref = actors[next(turn) % len(actors)].call.remote(list(batch))

            def wait() -> BatchOutcome:
                try:
                    answers, latency, error = ray.get(ref)
                except Exception as exc:  # the actor died or the task failed to run
                    return BatchOutcome(batch, None, 0.0, exc)
                return BatchOutcome(batch, answers, latency, error)

            return pool.submit(wait)

        try:
            yield from _ordered(batches, submit, self.window)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _kill_actors(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        self._payload = None

    def close(self) -> None:
        """Stop the actors; a Ray this executor started is shut down too."""
        self._kill_actors()
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EXECUTORS: dict[str, Callable[..., ClosableExecutor]] = {
    "serial": SerialExecutor,
    "thread": ThreadExecutor,
    "process": ProcessExecutor,
    "async": AsyncExecutor,
    "ray": RayExecutor,
}


def executor_names() -> list[str]:
    return sorted(EXECUTORS)


def create_executor(name: str, workers: int | None = None, **options: Any) -> ClosableExecutor:
    """An executor by name: ``map_batches``, ``workers``, ``close()``; also a context manager."""
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise UnknownNameError("executor", name, EXECUTORS) from None
    try:
        executor = factory(workers=workers, **options)
    except TypeError as exc:
        raise EngineError(f"bad options for executor {name!r}: {exc}") from None
    return executor
