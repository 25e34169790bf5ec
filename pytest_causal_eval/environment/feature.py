"""Environment feature wiring: options, marker keys, and the plugin object when enabled.

Options: ``--causal-eval-xdist`` (timing mode under pytest-xdist), ``--causal-eval-require-gpu``
(gpu_env fails instead of skipping without CUDA), ``--causal-eval-health-sample`` (how long the
start-of-session health check watches other processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.environment.keys import CPU_MARKER_KEYS, GPU_MARKER_KEYS
from pytest_causal_eval.environment.xdist import DEFAULT_XDIST_MODE, XDIST_MODES, parse_xdist_mode
from pytest_causal_eval.options import OptionSpec, parse_bool, parse_duration

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["MARKER_KEYS", "OPTIONS", "PLUGIN_NAME", "configure", "parse_health_sample"]

PLUGIN_NAME = "causal_eval_environment"


def parse_health_sample(text: str) -> float:
    """'off' (0: no busy-process sampling) or a duration such as 200ms."""
    lowered = str(text).strip().lower()
    if lowered in ("off", "0", "no", "false"):
        return 0.0
    try:
        value = parse_duration(lowered)
    except ValueError:
        raise ValueError(f"expected off or a duration such as 200ms, got {text!r}") from None
    if value > 10:
        raise ValueError(f"expected at most 10s, got {text!r}")
    return value


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "xdist",
        "Timing under pytest-xdist: serial (timed sections take turns, the rest runs in parallel), "
        f"pin (each worker on its own CPUs), off (no coordination). Default {DEFAULT_XDIST_MODE}.",
        DEFAULT_XDIST_MODE,
        parse_xdist_mode,
        metavar="|".join(XDIST_MODES),
    ),
    OptionSpec(
        "require_gpu",
        "Fail (instead of skip) tests using gpu_env when CUDA is not available.",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "health_sample",
        "How long the start-of-run health check watches other processes' CPU use (default 200ms; "
        "off: watch none, read only load, memory and swap).",
        0.2,
        parse_health_sample,
        metavar="DURATION|off",
    ),
)

MARKER_KEYS: dict[str, str] = {**CPU_MARKER_KEYS, **GPU_MARKER_KEYS}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled: register the environment plugin and its probes."""
    from pytest_causal_eval.environment.plugin import EnvironmentPlugin

    plugin = EnvironmentPlugin(config, session)
    plugin.setup()
    config.pluginmanager.register(plugin, PLUGIN_NAME)
