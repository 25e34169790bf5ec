"""``causal_bench.extra_info``: strings and numbers stored with a measurement (pytest-benchmark's name).

A dict that checks each value as it is set, so a value the results file cannot hold fails at the
line that sets it, the same way whether the plugin is on or off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

__all__ = ["ExtraInfo", "ExtraValue", "extra_info_problem"]

ExtraValue = str | int | float | bool


def extra_info_problem(key: Any, value: Any) -> str | None:
    """What is wrong with one ``extra_info`` entry, or None: keys are non-empty strings, values
    strings, booleans or finite numbers."""
    if not isinstance(key, str) or not key:
        return f"extra_info: keys must be non-empty strings, got {key!r}"
    if isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"extra_info[{key!r}] must be a finite number, got {value!r}"
    shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
    return (
        f"extra_info[{key!r}] must be a string, a number or a boolean (stored in the results JSON), "
        f"got {type(value).__name__} {shown}"
    )


def _check(key: Any, value: Any) -> None:
    problem = extra_info_problem(key, value)
    if problem is not None:
        pytest.fail(f"causal_bench.{problem}", pytrace=False)


class ExtraInfo(dict[str, ExtraValue]):
    """``causal_bench.extra_info``: set entries as on a dict; each one is checked when it is set."""

    def __setitem__(self, key: str, value: ExtraValue) -> None:
        _check(key, value)
        super().__setitem__(key, value)

    def setdefault(self, key: str, default: ExtraValue = "") -> ExtraValue:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other: Any = (), /, **kwargs: ExtraValue) -> None:
        pairs: Iterable[tuple[Any, Any]] = other.items() if isinstance(other, Mapping) else other
        for key, value in [*pairs, *kwargs.items()]:
            self[key] = value

    def __ior__(self, other: Any) -> ExtraInfo:  # type: ignore[override,misc]
        self.update(other)
        return self
