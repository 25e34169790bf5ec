"""The ``causal_engine`` fixture: evaluators of the causal engine, bound to the test session.

A suite asks for an engine instead of wiring models, caches and servers by hand::

    @pytest.mark.causal_engine(task="association", batch_size=32)
    def test_oracle(causal_engine, causal_bench):
        engine = causal_engine("oracle")
        result = causal_bench(engine.run, 200)

``causal_engine(model=None, *, task=None, batch_size=None, executor=None, workers=None, cache=None,
http=None, stream_seed=None, difficulty=None, client=None, model_args=None, **model_args) -> EngineHandle``

* Every argument left out comes from the test's ``@pytest.mark.causal_engine(...)`` marker, then
  from the defaults: model ``oracle``, batch size 32, ``serial`` executor, no cache, stream seed 0.
  The marker's extra keywords are model arguments; they apply unless the call names another model.
  A model argument whose name is one of the factory's (e.g. the torch model's own ``batch_size``)
  goes in ``model_args={...}``.
* Models come from the engine's registry by name. ``model="http:NAME"`` (or ``http=True``) serves
  NAME with a local OpenAI-compatible server (``LocalServer``, 127.0.0.1), started once per session
  per (model, model arguments) and stopped when the session ends; the handle's model is the HTTP
  client (``client=`` holds its options, e.g. ``{"max_concurrency": 32}``). An ``http:oracle``
  server answers by prompt lookup: its task, seed and ``n`` default to the handle's task, stream
  seed and 1000 questions.
* ``cache``: off by default (a benchmark times the raw model). ``"memory"``: one LRU for the
  session; ``True`` or ``"disk"``: SQLite under the pytest cache (``.pytest_cache/d/causal-eval-
  responses``) when the cacheprovider is on, else under the session's temporary directory;
  ``"redis://..."``: Redis. Cache keys hold the model fingerprint, so handles can share a cache.
* Handles, models, servers and caches are built once per session and shared by equal requests.
* A test whose ``@pytest.mark.causal_eval`` marker sets ``cpu_env`` keys (threads, affinity, seed,
  ...) gets the ``cpu_env`` fixture applied; a torch model in a test that uses ``gpu_env`` runs on
  its device and precision unless the call says otherwise.
* Mistakes fail the test that made them with a message naming the argument: unknown model, task or
  executor, bad model options, a server that does not answer. A model whose optional dependency
  is not installed (torch, httpx, transformers) skips the test with the reason.

Light to import: the engine loads when a test first asks for an engine.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.bench import CausalBench, InertBench
    from pytest_causal_eval.engine import EvalResult, Evaluator, LocalServer, Model, Question, ResponseCache

__all__ = [
    "DEFAULTS",
    "ENGINE_MARKER",
    "ENGINE_MARKER_LINE",
    "EVAL_THRESHOLDS",
    "GPU_MARKER_LINE",
    "EngineHandle",
    "EnginePool",
    "causal_engine_fixture",
    "engine_pool_fixture",
    "session_cache_root",
]

ENGINE_MARKER = "causal_engine"
ENGINE_MARKER_LINE = (
    "causal_engine(model=..., task=..., batch_size=..., executor=..., workers=..., cache=..., "
    "http=..., stream_seed=..., **model_args): defaults for the causal_engine fixture in this test"
)
GPU_MARKER_LINE = (
    "gpu: needs a CUDA device; its gpu_env fixture skips the test with the reason when CUDA is absent"
)
#: Built-in defaults of the factory's arguments (the marker and the call override them).
DEFAULTS: dict[str, Any] = {
    "model": "oracle",
    "task": None,
    "batch_size": 32,
    "executor": "serial",
    "workers": None,
    "cache": False,
    "http": False,
    "stream_seed": 0,
    "difficulty": "medium",
    "client": None,
}
#: Gate settings for the metrics ``EngineHandle.measure`` records: accuracy (over the answered
#: questions) may drop 2 points and the error rate (failed model calls over all questions) may rise
#: 2 points; the bounds of the accuracy interval are informational. Use as
#: ``@pytest.mark.causal_eval(metric_thresholds=...)``.
# Latency percentiles are recorded and reported but not gated: the time of the whole evaluation is,
# and per-question percentiles at the microsecond scale mostly measure the scheduler; gating four
# more quantities per measurement would multiply the false alarms on a shared machine.
EVAL_THRESHOLDS: dict[str, str] = {
    "accuracy": "2pts",
    "error_rate": "2pts",
    "accuracy_ci_low": "off",
    "accuracy_ci_high": "off",
    "latency_p50": "off",
    "latency_p90": "off",
    "latency_p95": "off",
    "latency_p99": "off",
    "latency_p99_worst_evaluation": "off",
}
#: Latency percentiles ``measure`` records (per question, from the evaluator's reservoir).
LATENCY_METRICS: tuple[tuple[str, str], ...] = (
    ("latency_p50", "p50"),
    ("latency_p90", "p90"),
    ("latency_p95", "p95"),
    ("latency_p99", "p99"),
)
HTTP_PREFIX = "http:"
#: Questions an ``http:oracle`` server can answer when its ``n`` is not given.
LOOKUP_N = 1000
CACHE_DIR_NAME = "causal-eval-responses"
_INSTALL_HINT = {
    "torch": "torch",
    "httpx": "http",
    "uvicorn": "http",
    "starlette": "http",
    "transformers": "hf",
    "redis": "redis",
}


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=repr)


def _describe(name: str, args: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(args.items()))
    return f"causal_engine(model={name!r}{', ' + shown if shown else ''})"


def _missing_dependency(what: str, exc: ImportError) -> str:
    missing = (exc.name or "").split(".")[0] or str(exc)
    extra = _INSTALL_HINT.get(missing)
    hint = f" (pip install 'pytest-causal-eval[{extra}]')" if extra else ""
    return f"{what}: needs {missing}, which is not installed{hint}"


def _check_reachable(base_url: str, what: str, timeout: float = 2.0) -> None:
    """Fail the test now when nothing listens at ``base_url``, instead of after every retry."""
    __tracebackhide__ = True
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        pytest.fail(
            f"{what}: no model server answers at {base_url} ({type(exc).__name__}: {exc}); start it, "
            "or use model='http:NAME' to have causal_engine serve NAME locally",
            pytrace=False,
        )


@dataclass
class EngineHandle:
    """An evaluator bound to the session, with the task it evaluates by default."""

    evaluator: Evaluator
    model: Model
    model_name: str
    task: str | None = None
    stream_seed: int = 0
    difficulty: str = "medium"
    server: LocalServer | None = None
    cache: ResponseCache | None = None
    cache_dir: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.evaluator.batch_size

    def questions(
        self, n: int | None = None, task: str | None = None, seed: int | None = None
    ) -> Iterator[Question]:
        """The seeded question stream of ``task`` (default: the handle's), the first ``n`` if given."""
        __tracebackhide__ = True  # failures point at the test line
        from itertools import islice

        from pytest_causal_eval.engine import EngineError, create_task

        name = task or self.task
        if name is None:
            pytest.fail(
                f"causal_engine(model={self.model_name!r}): no task to draw questions from; give "
                "task= to causal_engine(...), to its marker, or to questions()/run()",
                pytrace=False,
            )
        try:
            stream = create_task(name, difficulty=self.difficulty).questions(
                self.stream_seed if seed is None else seed
            )
        except EngineError as exc:
            pytest.fail(f"causal_engine(task={name!r}): {exc}", pytrace=False)
        return stream if n is None else islice(stream, n)

    def run(self, n: int, task: str | None = None, seed: int | None = None) -> EvalResult:
        """Evaluate the first ``n`` questions of ``task`` (default: the handle's task)."""
        __tracebackhide__ = True  # failures point at the test line
        return self.evaluate(self.questions(task=task, seed=seed), n)

    def measure(
        self,
        bench: CausalBench | InertBench,
        n: int,
        *,
        task: str | None = None,
        seed: int | None = None,
        rounds: int | None = None,
    ) -> EvalResult:
        """Measure ``run(n)`` with ``causal_bench`` and record what an evaluation benchmark reports.

        Sets ``bench.items = n`` (the plugin derives questions/s), records per-question latency
        percentiles over every round (``latency_p50/p90/p95/p99``, lower is better), ``error_rate``
        (the share of questions whose model call failed, lower is better), and ``accuracy`` over the
        answered questions with its Wilson interval (``accuracy_ci_low``/``accuracy_ci_high``; see
        :data:`EVAL_THRESHOLDS`): an outage shows as a higher error rate, not as lower accuracy.
        When no question was answered, accuracy is not recorded (there is nothing to measure).
        ``rounds``: exactly that many rounds (pedantic mode) when measuring, for long runs.
        Returns the last round's result.
        """
        __tracebackhide__ = True  # failures point at the test line
        results: list[EvalResult] = []

        def workload() -> EvalResult:
            result = self.run(n, task=task, seed=seed)
            results.append(result)
            return result

        bench.items = n
        last: EvalResult = bench.pedantic(workload, rounds=rounds) if rounds is not None else bench(workload)
        for metric, attr in LATENCY_METRICS:
            samples = [float(v) for r in results if (v := getattr(r.latency, attr, None)) is not None]
            if samples:
                bench.record(metric, _median(samples), unit="s", better="lower", samples=samples)
        bench.record("error_rate", last.error_rate, better="lower")
        if last.answered:
            bench.record("accuracy", last.accuracy, better="higher")
            low, high = last.wilson
            bench.record("accuracy_ci_low", low, better="higher")
            bench.record("accuracy_ci_high", high, better="higher")
        return last

    def evaluate(self, questions: Iterator[Question] | list[Question], n: int | None = None) -> EvalResult:
        """Evaluate given questions; an engine failure fails the test with the engine's message."""
        __tracebackhide__ = True  # failures point at the test line
        from pytest_causal_eval.engine import EngineError

        try:
            return self.evaluator.run(iter(questions), n)
        except EngineError as exc:
            where = f" at {self.server.base_url}" if self.server is not None else ""
            pytest.fail(f"causal_engine(model={self.model_name!r}){where}: {exc}", pytrace=False)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class EnginePool:
    """The session's engines: models, servers, caches and handles, each built once and shared."""

    def __init__(self, cache_root: Callable[[], Path]) -> None:
        self._cache_root = cache_root
        self._cache_dir: Path | None = None
        self.handles: dict[str, EngineHandle] = {}
        self.models: dict[str, Model] = {}
        self.servers: dict[str, LocalServer] = {}
        self.caches: dict[str, ResponseCache] = {}
        self._failed: dict[str, str] = {}
        self.closed = False

    # -- the factory -------------------------------------------------------------------------------
    def get(
        self,
        model: str,
        *,
        task: str | None,
        batch_size: int,
        executor: str,
        workers: int | None,
        cache: bool | str | None,
        http: bool,
        stream_seed: int,
        difficulty: str,
        client: Mapping[str, Any] | None,
        model_args: Mapping[str, Any],
    ) -> EngineHandle:
        __tracebackhide__ = True  # failures point at the test line
        if not isinstance(model, str) or not model:
            pytest.fail(f"causal_engine(model=...): expected a model name, got {model!r}", pytrace=False)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            pytest.fail(
                f"causal_engine(batch_size=...): expected a positive integer, got {batch_size!r}",
                pytrace=False,
            )
        name = model[len(HTTP_PREFIX) :] if model.startswith(HTTP_PREFIX) else model
        http = http or model.startswith(HTTP_PREFIX)
        args = dict(model_args)
        if http and name == "oracle":
            args.setdefault("task", task)
            args.setdefault("seed", stream_seed)
            args.setdefault("n", LOOKUP_N)
            args.setdefault("difficulty", difficulty)
            if args["task"] is None:
                pytest.fail(
                    "causal_engine(model='http:oracle'): the served oracle answers by prompt lookup and "
                    "needs the task to regenerate; give task=",
                    pytrace=False,
                )
        key = _key(
            name, http, args, task, batch_size, executor, workers, cache, stream_seed, difficulty, client
        )
        handle = self.handles.get(key)
        if handle is not None:
            return handle
        label = _describe(f"{HTTP_PREFIX}{name}" if http else name, args)
        if http:
            server = self.server(name, args)
            client_args = {"base_url": server.base_url, "model_name": server.model_name, **dict(client or {})}
            engine_model = self.model("openai", client_args, label)
        else:
            server = None
            engine_model = self.model(name, args, label)
        response_cache, cache_dir = self.cache(cache)
        from pytest_causal_eval.engine import EngineError, Evaluator

        try:
            evaluator = Evaluator(
                engine_model,
                batch_size=batch_size,
                executor=executor,
                workers=workers,
                cache=response_cache,
                seed=stream_seed,
            )
        except EngineError as exc:
            pytest.fail(f"{label}: {exc}", pytrace=False)
        handle = EngineHandle(
            evaluator=evaluator,
            model=engine_model,
            model_name=f"{HTTP_PREFIX}{name}" if http else name,
            task=task,
            stream_seed=stream_seed,
            difficulty=difficulty,
            server=server,
            cache=response_cache,
            cache_dir=cache_dir,
            settings={"executor": executor, "workers": workers, "cache": cache, "model_args": args},
        )
        self.handles[key] = handle
        return handle

    # -- the parts ---------------------------------------------------------------------------------
    def model(self, name: str, args: Mapping[str, Any], label: str) -> Model:
        __tracebackhide__ = True  # failures point at the test line
        key = _key(name, args)
        found = self.models.get(key)
        if found is not None:
            return found
        try:
            from pytest_causal_eval.engine import EngineError, create_model

            built = create_model(name, **dict(args))
        except ImportError as exc:
            pytest.skip(_missing_dependency(label, exc))
        except EngineError as exc:
            pytest.fail(f"{label}: {exc}", pytrace=False)
        base_url = getattr(built, "base_url", None) if name == "openai" else None
        if isinstance(base_url, str) and not any(s.base_url == base_url for s in self.servers.values()):
            _check_reachable(base_url, label)
        self.models[key] = built
        return built

    def server(self, name: str, args: Mapping[str, Any]) -> LocalServer:
        __tracebackhide__ = True  # failures point at the test line
        key = _key(name, args)
        label = _describe(f"{HTTP_PREFIX}{name}", args)
        if key in self._failed:
            pytest.fail(f"{label}: {self._failed[key]}", pytrace=False)
        found = self.servers.get(key)
        if found is not None:
            return found
        try:
            import httpx  # noqa: F401  (the server and its client need it)

            from pytest_causal_eval.engine import EngineError, LocalServer

            server = LocalServer(name, args)
            server.start()
        except ImportError as exc:
            pytest.skip(_missing_dependency(label, exc))
        except EngineError as exc:
            self._failed[key] = f"the local model server did not start: {exc}"
            pytest.fail(f"{label}: {self._failed[key]}", pytrace=False)
        self.servers[key] = server
        return server

    def cache_dir(self) -> Path:
        if self._cache_dir is None:
            self._cache_dir = self._cache_root()
        return self._cache_dir

    def cache(self, spec: bool | str | None) -> tuple[ResponseCache | None, Path | None]:
        __tracebackhide__ = True  # failures point at the test line
        if spec is None or spec is False:
            return None, None
        if spec is True or spec == "disk":
            where = str(self.cache_dir())
        elif spec == "memory" or (isinstance(spec, str) and spec.startswith(("redis://", "rediss://"))):
            where = spec
        else:
            pytest.fail(
                f"causal_engine(cache={spec!r}): expected False, True, 'memory', 'disk' or a redis:// URL",
                pytrace=False,
            )
        found = self.caches.get(where)
        directory = Path(where) if where not in ("memory",) and "://" not in where else None
        if found is not None:
            return found, directory
        from pytest_causal_eval.engine import EngineError, open_cache

        try:
            opened: ResponseCache = open_cache(where)
        except ImportError as exc:
            pytest.skip(_missing_dependency(f"causal_engine(cache={spec!r})", exc))
        except EngineError as exc:
            pytest.fail(f"causal_engine(cache={spec!r}): {exc}", pytrace=False)
        self.caches[where] = opened
        return opened, directory

    def close(self) -> None:
        """Close HTTP clients and caches, stop the servers (the session's finalizer)."""
        self.closed = True
        for part in [*self.models.values(), *self.caches.values()]:
            closer = getattr(part, "close", None)
            if callable(closer):
                with contextlib.suppress(Exception):
                    closer()
        for server in self.servers.values():
            server.stop()
        self.handles.clear()


def session_cache_root(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a disk response cache lives: the pytest cache when the cacheprovider is on (reused by the
    next run), else the session's temporary directory. Created on first use only."""
    cache = getattr(config, "cache", None)  # set by the cacheprovider plugin when it is on
    if cache is not None:
        return Path(cache.mkdir(CACHE_DIR_NAME))
    return tmp_path_factory.mktemp(CACHE_DIR_NAME, numbered=False)


def engine_pool_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EnginePool]:
    """The session's :class:`EnginePool` (what ``causal_engine`` builds from); closed at session end."""
    config = request.config
    pool = EnginePool(lambda: session_cache_root(config, tmp_path_factory))
    try:
        yield pool
    finally:
        pool.close()


def _marker_defaults(node: pytest.Item) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(ENGINE_MARKER))):
        if mark.args:
            pytest.fail(
                f"@pytest.mark.{ENGINE_MARKER} takes keyword arguments only, got {mark.args!r}", pytrace=False
            )
        merged.update(mark.kwargs)
    return merged


def _wants_cpu_env(node: pytest.Item) -> bool:
    from pytest_causal_eval.environment.cpu import CPU_MARKER_KEYS

    return any(key in mark.kwargs for mark in node.iter_markers("causal_eval") for key in CPU_MARKER_KEYS)


def causal_engine_fixture(
    request: pytest.FixtureRequest, causal_engine_pool: EnginePool
) -> Callable[..., EngineHandle]:
    """``causal_engine(model, *, task, batch_size, executor, workers, cache, http, stream_seed,
    difficulty, client, **model_args) -> EngineHandle`` (see :mod:`pytest_causal_eval.engine_fixture`)."""
    node = request.node
    marker = _marker_defaults(node)
    if "cpu_env" not in request.fixturenames and _wants_cpu_env(node):
        request.getfixturevalue("cpu_env")
    marker_model_args = {k: v for k, v in marker.items() if k not in DEFAULTS}

    def factory(model: str | None = None, **kwargs: Any) -> EngineHandle:
        __tracebackhide__ = True  # failures point at the test line
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in DEFAULTS}
        explicit = kwargs.pop("model_args", None) or {}
        chosen = model if model is not None else marker.get("model", DEFAULTS["model"])
        same_model = model is None or model == marker.get("model", DEFAULTS["model"])
        model_args = {**(marker_model_args if same_model else {}), **kwargs, **dict(explicit)}
        resolved = {
            k: options[k] if k in options else marker.get(k, DEFAULTS[k]) for k in DEFAULTS if k != "model"
        }
        base = str(chosen)[len(HTTP_PREFIX) :] if str(chosen).startswith(HTTP_PREFIX) else str(chosen)
        if base == "torch" and "gpu_env" in request.fixturenames:
            env = request.getfixturevalue("gpu_env")
            model_args.setdefault("device", env.device)
            model_args.setdefault("precision", env.precision)
        return causal_engine_pool.get(chosen, model_args=model_args, **resolved)

    return factory
