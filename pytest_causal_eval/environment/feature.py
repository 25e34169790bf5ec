"""Environment feature wiring: options, marker keys, and the plugin object when enabled.

Options: ``--causal-eval-xdist`` (timing mode under pytest-xdist), ``--causal-eval-require-gpu``
(gpu_env fails instead of skipping without CUDA), ``--causal-eval-health-sample`` (how long the
start-of-session health check watches other processes), ``--causal-eval-max-foreign-load`` (the
share of the CPUs other processes may use during a measurement before a time regression is
inconclusive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.environment.keys import CPU_MARKER_KEYS, GPU_MARKER_KEYS
from pytest_causal_eval.environment.settings import OPTIONS

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["MARKER_KEYS", "OPTIONS", "PLUGIN_NAME", "configure"]

PLUGIN_NAME = "causal_eval_environment"

MARKER_KEYS: dict[str, str] = {**CPU_MARKER_KEYS, **GPU_MARKER_KEYS}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled: register the environment plugin and its probes."""
    from pytest_causal_eval.environment.plugin import EnvironmentPlugin

    plugin = EnvironmentPlugin(config, session)
    plugin.setup()
    config.pluginmanager.register(plugin, PLUGIN_NAME)
