"""Per-question failures inside a batch.

A model that answers questions independently (an HTTP client sending one request per question)
can lose some answers and keep the others. It raises :class:`PartialFailure` carrying both; the
evaluator records an error for each failed question and scores the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_causal_eval.engine.redaction import redact

__all__ = ["PartialFailure"]


class PartialFailure(Exception):
    """Some questions of a batch failed: ``responses[i]`` is None exactly where ``errors[i]`` is set."""

    def __init__(self, responses: Sequence[str | None], errors: Sequence[BaseException | None]) -> None:
        if len(responses) != len(errors):
            raise ValueError("responses and errors must have the same length")
        self.responses: list[str | None] = list(responses)
        self.errors: list[BaseException | None] = list(errors)
        failed = [e for e in self.errors if e is not None]
        first = f"; first: {type(failed[0]).__name__}: {failed[0]}" if failed else ""
        super().__init__(redact(f"{len(failed)} of {len(self.errors)} questions failed{first}"))

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for process and Ray executors
        return (type(self), (self.responses, self.errors))
