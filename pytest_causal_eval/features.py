"""The plugin's feature modules, wired in one place.

Each feature module defines ``OPTIONS`` (option specs, flags ``--causal-eval-*``), ``MARKER_KEYS``
(keyword arguments it reads from ``@pytest.mark.causal_eval``) and ``configure(config, session)``,
called once when the plugin is enabled (register plugin objects and measurement probes there).
The fixtures are declared in ``plugin.py`` and load their bodies on first use. Everything heavy is
imported inside functions.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FEATURE_MODULES", "feature_modules"]

FEATURE_MODULES: tuple[str, ...] = (
    "pytest_causal_eval.baseline.feature",
    "pytest_causal_eval.environment.feature",
    "pytest_causal_eval.profiling.feature",
    "pytest_causal_eval.report.feature",
    "pytest_causal_eval.shard.feature",
    "pytest_causal_eval.instructions.feature",
)


def feature_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in FEATURE_MODULES]
