"""Causal-reasoning evaluation engine: exact SCM tasks, datasets, models, scoring, evaluator.

Typical use::

    from pytest_causal_eval.engine import Evaluator, create_model, create_task

    task = create_task("intervention", difficulty="medium")
    result = Evaluator(create_model("oracle"), batch_size=32).run(task.questions(seed=0), n=1000)
    result.accuracy, result.wilson, result.bootstrap, result.throughput, result.latency.p99
"""

from __future__ import annotations

from .cache import (
    CacheUnavailable,
    CacheWarning,
    MemoryCache,
    RedisCache,
    SQLiteCache,
    TieredCache,
    open_cache,
)
from .cladder import answer_question, cladder_groundtruth
from .errors import DatasetError, EngineError, ErrorRateExceeded, ModelOutputError, UnknownNameError
from .evaluator import EvalResult, Evaluator, ResponseCache, batched, cache_key
from .executors import (
    AsyncExecutor,
    BatchOutcome,
    Executor,
    ProcessExecutor,
    RayExecutor,
    SerialExecutor,
    ThreadExecutor,
    call_model,
    create_executor,
    executor_names,
)
from .extraction import EXTRACTION_MODES, extract_answer
from .failures import PartialFailure
from .graphs import FAMILIES, Graph, family_graph
from .loaders import DATASET_FORMATS, FIELD_NAMES, load_bbh, load_cladder, load_dataset, load_records
from .local_server import LocalServer, free_port
from .models import (
    ConstantModel,
    LookupModel,
    Model,
    ModelSpec,
    OracleModel,
    RandomModel,
    ReplayModel,
    SpinModel,
    TextModel,
    create_model,
    model_names,
    model_spec,
    register_model,
)
from .quantiles import LatencyStats, LatencySummary
from .question import YES_NO, Question
from .sampling import DIFFICULTIES, sample_model
from .scm import CausalModel
from .scoring import GroupStats, Scoreboard, cluster_bootstrap, wilson_interval
from .tasks import TASKS, Task, create_task, generate, task_names

__all__ = [
    "DATASET_FORMATS",
    "DIFFICULTIES",
    "EXTRACTION_MODES",
    "FAMILIES",
    "FIELD_NAMES",
    "TASKS",
    "YES_NO",
    "AsyncExecutor",
    "BatchOutcome",
    "CacheUnavailable",
    "CacheWarning",
    "CausalModel",
    "ConstantModel",
    "DatasetError",
    "EngineError",
    "ErrorRateExceeded",
    "EvalResult",
    "Evaluator",
    "Executor",
    "Graph",
    "GroupStats",
    "LatencyStats",
    "LatencySummary",
    "LocalServer",
    "LookupModel",
    "MemoryCache",
    "Model",
    "ModelOutputError",
    "ModelSpec",
    "OracleModel",
    "PartialFailure",
    "ProcessExecutor",
    "Question",
    "RandomModel",
    "RayExecutor",
    "RedisCache",
    "ReplayModel",
    "ResponseCache",
    "SQLiteCache",
    "Scoreboard",
    "SerialExecutor",
    "SpinModel",
    "Task",
    "TextModel",
    "ThreadExecutor",
    "TieredCache",
    "UnknownNameError",
    "answer_question",
    "batched",
    "cache_key",
    "call_model",
    "cladder_groundtruth",
    "cluster_bootstrap",
    "create_executor",
    "create_model",
    "create_task",
    "executor_names",
    "extract_answer",
    "family_graph",
    "free_port",
    "generate",
    "load_bbh",
    "load_cladder",
    "load_dataset",
    "load_records",
    "model_names",
    "model_spec",
    "open_cache",
    "register_model",
    "sample_model",
    "task_names",
    "wilson_interval",
]
