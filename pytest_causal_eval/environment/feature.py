"""Environment feature wiring: options, marker keys, and the plugin object when enabled.

Options: ``--causal-eval-xdist`` (timing mode under pytest-xdist), ``--causal-eval-require-gpu``
(gpu_env fails instead of skipping without CUDA), ``--causal-eval-health-sample`` (how long the
start-of-session health check watches other processes), ``--causal-eval-max-foreign-load`` (the
share of the CPUs other processes may use during a measurement before a time regression is
inconclusive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.environment.keys import CPU_MARKER_KEYS, GPU_MARKER_KEYS
from pytest_causal_eval.environment.settings import OPTIONS

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["MARKER_KEYS", "MARKER_PARSERS", "OPTIONS", "PLUGIN_NAME", "configure"]

PLUGIN_NAME = "causal_eval_environment"

MARKER_KEYS: dict[str, str] = {**CPU_MARKER_KEYS, **GPU_MARKER_KEYS}


def _positive_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected an integer >= 1, got {value!r}")
    return value


def _seed(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


def _affinity(value: Any) -> Any:
    from pytest_causal_eval.environment.affinity import parse_cpu_list

    parse_cpu_list(value)  # the CPUs this process may use are checked when cpu_env applies it
    return value


def _precision(value: Any) -> Any:
    if value not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"expected one of fp32, fp16, bf16, got {value!r}")
    return value


def _fraction(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) <= 1:
        raise ValueError(f"expected a number in (0, 1], got {value!r}")
    return value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"expected True or False, got {value!r}")
    return value


def _text(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


#: Checked at collection; the values stay as written (cpu_env/gpu_env apply them).
MARKER_PARSERS: dict[str, Callable[[Any], Any]] = {
    "threads": _positive_int,
    "interop_threads": _positive_int,
    "seed": _seed,
    "affinity": _affinity,
    "precision": _precision,
    "memory_fraction": _fraction,
    "tf32": _flag,
    "cudnn_benchmark": _flag,
    "deterministic": _flag,
    "alloc_conf": _text,
    "device": _text,
}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled: register the environment plugin and its probes."""
    from pytest_causal_eval.environment.plugin import EnvironmentPlugin

    plugin = EnvironmentPlugin(config, session)
    plugin.setup()
    config.pluginmanager.register(plugin, PLUGIN_NAME)
