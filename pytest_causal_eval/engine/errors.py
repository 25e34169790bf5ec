"""Exception classes of the causal evaluation engine.

Every user mistake the engine can detect (unknown names, malformed datasets, misbehaving models)
raises a subclass of :class:`EngineError`; front ends turn it into a one-line message.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DatasetError",
    "EngineError",
    "ErrorRateExceeded",
    "MissingDependencyError",
    "ModelOutputError",
    "UnknownNameError",
]


class EngineError(Exception):
    """A user mistake or bad input detected by the engine."""


class MissingDependencyError(EngineError, ImportError):
    """An optional third-party package a model needs is not installed. Also an ``ImportError``, so
    code that skips on a missing import (the causal_engine fixture) still skips."""


class UnknownNameError(EngineError, KeyError):
    """A task, model or other registry name that does not exist."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class DatasetError(EngineError):
    """A dataset file that cannot be read: names the file and, where known, line and field."""

    def __init__(self, path: str, message: str, *, line: int | None = None, field: str | None = None) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = path if line is None else f"{path}:{line}"
        detail = message if field is None else f"field {field!r}: {message}"
        super().__init__(f"{where}: {detail}")


class ModelOutputError(EngineError):
    """A model that broke the protocol, e.g. returned the wrong number of answers."""


class ErrorRateExceeded(EngineError):
    """More model calls failed than the evaluator's ``max_error_rate`` allows."""
