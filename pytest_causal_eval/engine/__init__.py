"""Causal-reasoning evaluation engine: exact SCM tasks, datasets, models, scoring, evaluator.

Typical use::

    from pytest_causal_eval.engine import Evaluator, create_model, create_task

    task = create_task("intervention", difficulty="medium")
    result = Evaluator(create_model("oracle"), batch_size=32).run(task.questions(seed=0), n=1000)
    result.accuracy, result.wilson, result.bootstrap, result.throughput, result.latency.p99

The names below are the public API; each loads its module on first use, so importing this
package costs nothing (no numpy, no optional dependency). Everything else is importable from the
subpackage that owns it: ``causal`` (graphs, SCMs, tasks, CLadder), ``data`` (questions,
loaders, answer extraction), ``models`` (the model protocol, registry and adapters), ``serving``
(the OpenAI-compatible server), ``run`` (evaluator, executors, caches, statistics), and
``fixture`` (the ``causal_engine`` pytest fixture).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_causal_eval.engine.causal.cladder import answer_question, cladder_groundtruth, solve_question
    from pytest_causal_eval.engine.causal.graphs import Graph
    from pytest_causal_eval.engine.causal.scm import CausalModel
    from pytest_causal_eval.engine.causal.tasks import TASKS, Task, create_task, generate, task_names
    from pytest_causal_eval.engine.causal.validation import validate_cladder
    from pytest_causal_eval.engine.data.extraction import extract_answer
    from pytest_causal_eval.engine.data.loaders import load_bbh, load_cladder, load_dataset
    from pytest_causal_eval.engine.data.question import Question
    from pytest_causal_eval.engine.errors import (
        DatasetError,
        EngineError,
        ErrorRateExceeded,
        ModelOutputError,
        UnknownNameError,
    )
    from pytest_causal_eval.engine.models.base import Model, TextModel
    from pytest_causal_eval.engine.models.failures import PartialFailure
    from pytest_causal_eval.engine.models.registry import (
        ModelSpec,
        create_model,
        model_names,
        model_spec,
        register_model,
    )
    from pytest_causal_eval.engine.run.cache import (
        CacheUnavailable,
        CacheWarning,
        MemoryCache,
        RedisCache,
        SQLiteCache,
        TieredCache,
        open_cache,
    )
    from pytest_causal_eval.engine.run.evaluator import EvalResult, Evaluator, ResponseCache, cache_key
    from pytest_causal_eval.engine.run.executors import (
        BatchOutcome,
        Executor,
        ProcessExecutor,
        SerialExecutor,
        create_executor,
        executor_names,
    )
    from pytest_causal_eval.engine.run.quantiles import LatencyStats
    from pytest_causal_eval.engine.run.scoring import Scoreboard, cluster_bootstrap, wilson_interval
    from pytest_causal_eval.engine.serving.local_server import LocalServer, free_port

__all__ = [
    "TASKS",
    "BatchOutcome",
    "CacheUnavailable",
    "CacheWarning",
    "CausalModel",
    "DatasetError",
    "EngineError",
    "ErrorRateExceeded",
    "EvalResult",
    "Evaluator",
    "Executor",
    "Graph",
    "LatencyStats",
    "LocalServer",
    "MemoryCache",
    "Model",
    "ModelOutputError",
    "ModelSpec",
    "PartialFailure",
    "ProcessExecutor",
    "Question",
    "RedisCache",
    "ResponseCache",
    "SQLiteCache",
    "Scoreboard",
    "SerialExecutor",
    "Task",
    "TextModel",
    "TieredCache",
    "UnknownNameError",
    "answer_question",
    "cache_key",
    "cladder_groundtruth",
    "cluster_bootstrap",
    "create_executor",
    "create_model",
    "create_task",
    "executor_names",
    "extract_answer",
    "free_port",
    "generate",
    "load_bbh",
    "load_cladder",
    "load_dataset",
    "model_names",
    "model_spec",
    "open_cache",
    "register_model",
    "solve_question",
    "task_names",
    "validate_cladder",
    "wilson_interval",
]

#: Where each public name is defined (what ``__getattr__`` imports on first use).
_WHERE: dict[str, str] = {
    name: f"{__name__}.{module}"
    for module, names in {
        "causal.cladder": ("answer_question", "cladder_groundtruth", "solve_question"),
        "causal.graphs": ("Graph",),
        "causal.scm": ("CausalModel",),
        "causal.tasks": ("TASKS", "Task", "create_task", "generate", "task_names"),
        "causal.validation": ("validate_cladder",),
        "data.extraction": ("extract_answer",),
        "data.loaders": ("load_bbh", "load_cladder", "load_dataset"),
        "data.question": ("Question",),
        "errors": (
            "DatasetError",
            "EngineError",
            "ErrorRateExceeded",
            "ModelOutputError",
            "UnknownNameError",
        ),
        "models.base": ("Model", "TextModel"),
        "models.failures": ("PartialFailure",),
        "models.registry": ("ModelSpec", "create_model", "model_names", "model_spec", "register_model"),
        "run.cache": (
            "CacheUnavailable",
            "CacheWarning",
            "MemoryCache",
            "RedisCache",
            "SQLiteCache",
            "TieredCache",
            "open_cache",
        ),
        "run.evaluator": ("EvalResult", "Evaluator", "ResponseCache", "cache_key"),
        "run.executors": (
            "BatchOutcome",
            "Executor",
            "ProcessExecutor",
            "SerialExecutor",
            "create_executor",
            "executor_names",
        ),
        "run.quantiles": ("LatencyStats",),
        "run.scoring": ("Scoreboard", "cluster_bootstrap", "wilson_interval"),
        "serving.local_server": ("LocalServer", "free_port"),
    }.items()
    for name in names
}

if not TYPE_CHECKING:  # type checkers read the imports above; at run time names load on first use

    def __getattr__(name: str) -> object:
        module = _WHERE.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
