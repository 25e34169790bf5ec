"""The ``causal_eval`` marker, parsed once at collection into a typed per-test config.

``merged_kwargs`` is the one place markers are merged (closest wins: a function's marker over its
class's over its module's). ``parse_item_markers`` checks every key and value (the core ones here,
the features' through their ``MARKER_PARSERS``) and, when pytest-benchmark is not active, takes
``@pytest.mark.benchmark`` too, mapped to ours; the result sits in the item's stash
(``item_markers``). A bad key or value is a collection error naming the test and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.measure.timer import Timer

__all__ = [
    "BENCHMARK_MARKER",
    "ITEM_MARKERS_KEY",
    "ITEM_TIMER_KEY",
    "MARKER",
    "MARKER_KEYS",
    "ItemMarkers",
    "MarkerError",
    "all_marker_keys",
    "item_markers",
    "marker_kwargs",
    "merged_kwargs",
    "parse_item_markers",
]

MARKER = "causal_eval"
#: pytest-benchmark's marker, read (mapped to ours) when pytest-benchmark itself is not active.
BENCHMARK_MARKER = "benchmark"

#: A per-test clock (e.g. CUDA events for a GPU test); the session's timer when unset.
ITEM_TIMER_KEY = pytest.StashKey[Any]()

# Keyword arguments @pytest.mark.causal_eval(...) accepts; feature modules add theirs here.
MARKER_KEYS: dict[str, str] = {
    "min_time": "minimum round duration",
    "max_time": "time budget for the rounds",
    "min_rounds": "minimum number of rounds",
    "max_rounds": "maximum number of rounds",
    "warmup": "warm-up duration, auto or off",
    "gc": "garbage collector during rounds: enabled, disabled or frozen",
    "group": "group name shown in reports",
    "timer": "a clock for this test: a function returning seconds (time.perf_counter, time.process_time)",
}


class MarkerError(Exception):
    """A marker key or value that is not allowed; the message names the key and what is allowed."""


@dataclass(frozen=True)
class ItemMarkers:
    """One test's ``causal_eval`` marker (and mapped ``benchmark`` marker), merged and parsed.

    ``runner``: overrides of the round schedule (``RunnerConfig`` fields); ``values``: every key
    given, parsed (features read theirs here); ``raw``: as written; ``ignored``: pytest-benchmark
    keys that have no equivalent, with why.
    """

    runner: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None
    timer: Timer | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    ignored: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class BenchmarkKey(Protocol):
    """How one ``@pytest.mark.benchmark`` key is written here (``porting.mapping.MarkerKey``):
    ``target`` None means no equivalent (``reason`` says why); ``if_true``/``if_false`` map a bool."""

    @property
    def target(self) -> str | None: ...

    @property
    def reason(self) -> str: ...

    @property
    def if_true(self) -> str | None: ...

    @property
    def if_false(self) -> str | None: ...


ITEM_MARKERS_KEY = pytest.StashKey[ItemMarkers]()
#: pytest-benchmark's marker keys and ours (set by the plugin from the port's table).
BENCHMARK_KEYS_KEY = pytest.StashKey[Mapping[str, BenchmarkKey]]()
#: Set on the config when pytest-benchmark is not active: ``@pytest.mark.benchmark`` is ours to read.
READ_BENCHMARK_MARKER_KEY = pytest.StashKey[bool]()


def all_marker_keys() -> dict[str, str]:
    from pytest_causal_eval.features import feature_modules

    keys = dict(MARKER_KEYS)
    for module in feature_modules():
        keys.update(module.MARKER_KEYS)
    return keys


def _marker_parsers() -> dict[str, Callable[[Any], Any]]:
    from pytest_causal_eval.features import feature_modules

    parsers: dict[str, Callable[[Any], Any]] = dict(_CORE_PARSERS)
    for module in feature_modules():
        parsers.update(getattr(module, "MARKER_PARSERS", {}))
    return parsers


def merged_kwargs(node: pytest.Item, name: str = MARKER) -> dict[str, Any]:
    """Keyword arguments of every ``name`` marker on the node, merged (closest wins). Positional
    arguments are refused: every marker of this plugin takes keywords only."""
    merged: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(name))):
        if mark.args:
            raise MarkerError(f"@pytest.mark.{name} takes keyword arguments only, got {mark.args!r}")
        merged.update(mark.kwargs)
    return merged


# -- core parsers (raise ValueError with what is allowed) ------------------------------------------
def _duration(value: Any) -> float:
    from pytest_causal_eval.options import parse_duration

    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 0.5, 500ms, 2s or 100us, got {value!r}")
    return parse_duration(str(value))


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a positive integer, got {value!r}")
    from pytest_causal_eval.options import parse_positive_int

    return parse_positive_int(str(value))


def _warmup(value: Any) -> float | None:
    if isinstance(value, bool):
        raise ValueError(
            f"expected auto, off or a duration such as 200ms, got {value!r} (write 'auto' or 'off')"
        )
    from pytest_causal_eval.options import parse_warmup

    return parse_warmup(str(value))


def _gc(value: Any) -> str:
    from pytest_causal_eval.measure.runner import GC_POLICIES

    if value not in GC_POLICIES:
        raise ValueError(f"expected one of {', '.join(GC_POLICIES)}, got {value!r}")
    return str(value)


def _group(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _timer(value: Any) -> Timer:
    from pytest_causal_eval.measure.timer import SecondsClockTimer

    if not callable(value):
        raise ValueError(
            "expected a function returning seconds such as time.perf_counter or time.process_time, "
            f"got {value!r}"
        )
    return SecondsClockTimer(value)


_CORE_PARSERS: dict[str, Callable[[Any], Any]] = {
    "min_time": _duration,
    "max_time": _duration,
    "min_rounds": _positive_int,
    "max_rounds": _positive_int,
    "warmup": _warmup,
    "gc": _gc,
    "group": _group,
    "timer": _timer,
}
_RUNNER_KEYS = ("min_time", "max_time", "min_rounds", "max_rounds", "warmup", "gc")


def _benchmark_kwargs(
    node: pytest.Item, benchmark_keys: Mapping[str, BenchmarkKey]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``@pytest.mark.benchmark``'s keys written as ours, and the ones without an equivalent (why)."""
    raw = merged_kwargs(node, BENCHMARK_MARKER)
    if not raw:
        return {}, {}
    ours: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    for key, value in raw.items():
        rule = benchmark_keys.get(key)
        if rule is None:
            raise MarkerError(
                f"@pytest.mark.benchmark got unknown argument {key}; pytest-benchmark's keys: "
                f"{', '.join(sorted(benchmark_keys))}"
            )
        if rule.target is None:
            ignored[key] = rule.reason
        elif rule.if_true is not None and isinstance(value, bool):
            ours[rule.target] = rule.if_true if value else rule.if_false
        else:
            ours[rule.target] = value
    return ours, ignored


def _benchmark_key_hint(key: str, benchmark_keys: Mapping[str, BenchmarkKey]) -> str | None:
    """For a pytest-benchmark key given to causal_eval: what to write instead."""
    rule = benchmark_keys.get(key)
    if rule is None:
        return None
    if rule.target is None:
        return f"{key} is pytest-benchmark's key and has no equivalent here: {rule.reason}"
    if rule.if_true is not None:
        return (
            f"{key} is pytest-benchmark's key; here it is {rule.target}={rule.if_true!r} "
            f"(or {rule.target}={rule.if_false!r})"
        )
    return f"{key} is pytest-benchmark's key; here it is {rule.target}=..."


def parse_item_markers(
    node: pytest.Item,
    *,
    read_benchmark: bool = False,
    benchmark_keys: Mapping[str, BenchmarkKey] | None = None,
) -> ItemMarkers:
    """Merge and parse the test's markers; raises ``MarkerError`` naming the key and what is allowed.

    ``read_benchmark``: also read ``@pytest.mark.benchmark`` through ``benchmark_keys`` (which also
    names our equivalent of a pytest-benchmark key given to causal_eval)."""
    keys = benchmark_keys or {}
    ours = merged_kwargs(node, MARKER)
    mapped, ignored = _benchmark_kwargs(node, keys) if read_benchmark else ({}, {})
    if not ours and not mapped and not ignored:
        return ItemMarkers()
    allowed = all_marker_keys()
    for key in ours:
        if key not in allowed:
            hint = _benchmark_key_hint(key, keys)
            if hint is not None:
                raise MarkerError(f"@pytest.mark.causal_eval({key}=...): {hint}")
            raise MarkerError(
                f"@pytest.mark.causal_eval got unknown argument {key}; allowed: {', '.join(sorted(allowed))}"
            )
    raw = {**mapped, **ours}
    parsers = _marker_parsers()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        parse = parsers.get(key)
        if parse is None:
            values[key] = value
            continue
        try:
            values[key] = parse(value)
        except ValueError as exc:
            source = "causal_eval" if key in ours else "benchmark"
            raise MarkerError(f"@pytest.mark.{source}({key}=...): {exc}") from None
    return ItemMarkers(
        runner={k: values[k] for k in _RUNNER_KEYS if k in values},
        group=values.get("group"),
        timer=values.get("timer"),
        values=values,
        raw=raw,
        ignored=ignored,
    )


def item_markers(item: pytest.Item) -> ItemMarkers:
    """The test's parsed markers (parsed at collection; parsed now for an item made later)."""
    parsed = item.stash.get(ITEM_MARKERS_KEY, None)
    if parsed is None:
        read_benchmark = item.config.stash.get(READ_BENCHMARK_MARKER_KEY, False)
        keys = item.config.stash.get(BENCHMARK_KEYS_KEY, None)
        try:
            parsed = parse_item_markers(item, read_benchmark=read_benchmark, benchmark_keys=keys)
        except MarkerError as exc:
            pytest.fail(f"{item.nodeid}: {exc}", pytrace=False)
        item.stash[ITEM_MARKERS_KEY] = parsed
    return parsed


def marker_kwargs(item: pytest.Item) -> dict[str, Any]:
    """The test's merged marker keys as written (checked at collection)."""
    return dict(item_markers(item).raw)
