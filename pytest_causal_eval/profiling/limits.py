"""Per-test limits from ``@pytest.mark.causal_eval(memory_limit=..., leak_limit=...)`` (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_causal_eval.profiling.diff import format_sites
from pytest_causal_eval.profiling.settings import LIMIT_MARKER_KEYS, parse_rate, parse_size
from pytest_causal_eval.profiling.sites import AllocationSite
from pytest_causal_eval.report.units import format_bytes

__all__ = ["MARKER_KEYS", "Limits", "judge_limits", "parse_limits"]

MARKER_KEYS: dict[str, str] = LIMIT_MARKER_KEYS

TOP_SITES = 5


@dataclass(frozen=True)
class Limits:
    memory: int | None = None
    leak: float | None = None

    @property
    def any(self) -> bool:
        return self.memory is not None or self.leak is not None


def parse_limits(kwargs: Mapping[str, Any]) -> Limits:
    """Raises ValueError naming the marker argument and what it accepts."""
    memory = leak = None
    if kwargs.get("memory_limit") is not None:
        try:
            memory = parse_size(kwargs["memory_limit"])
        except ValueError as exc:
            raise ValueError(f"@pytest.mark.causal_eval(memory_limit=...): {exc}") from None
    if kwargs.get("leak_limit") is not None:
        try:
            leak = parse_rate(kwargs["leak_limit"])
        except ValueError as exc:
            raise ValueError(f"@pytest.mark.causal_eval(leak_limit=...): {exc}") from None
    return Limits(memory=memory, leak=leak)


def _sites(raw: Any) -> list[AllocationSite]:
    return [AllocationSite.from_dict(s) for s in raw or [] if isinstance(s, Mapping)]


def judge_limits(limits: Limits, memory: Mapping[str, Any] | None, label: str) -> list[str]:
    """Failure messages for the limits a measurement's ``extra["memory"]`` exceeds (or cannot show)."""
    if not limits.any:
        return []
    if not memory:
        return [
            f"{label}: memory_limit/leak_limit could not be checked: the measurement has no re-runnable "
            "workload (causal_bench.aio); measure it with causal_bench.async_ or causal_bench(fn)"
        ]
    messages: list[str] = []
    backend = str(memory.get("backend", "?"))
    peak = memory.get("peak")
    if limits.memory is not None and isinstance(peak, (int, float)) and peak > limits.memory:
        messages.append(
            f"{label}: peak memory {format_bytes(peak)} exceeds memory_limit {format_bytes(limits.memory)} "
            f"({backend}); top allocation sites at the peak:"
        )
        messages.extend(format_sites(_sites(memory.get("sites"))[:TOP_SITES], "    "))
    leak = memory.get("leak")
    if limits.leak is not None and isinstance(leak, Mapping):
        per_iter = float(leak.get("per_iter", 0.0))
        if per_iter > limits.leak:
            messages.append(
                f"{label}: retains {format_bytes(per_iter)} per call (least squares over "
                f"{leak.get('iterations', '?')} calls, after gc) - above leak_limit "
                f"{format_bytes(limits.leak)}/iter; sites that grew:"
            )
            messages.extend(format_sites(_sites(leak.get("sites"))[:TOP_SITES], "    "))
            if leak.get("note"):
                messages.append(f"    note: {leak['note']}")
    return messages
