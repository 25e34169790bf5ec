"""The plugin's feature modules, wired in one place.

Each feature module defines ``OPTIONS`` (option specs, flags ``--causal-eval-*``), ``MARKER_KEYS``
(keyword arguments it reads from ``@pytest.mark.causal_eval``) and ``configure(config, session)``,
called once when the plugin is enabled (register plugin objects and measurement probes there).
Fixture modules are registered as pytest plugins whether or not the plugin is enabled; they must
stay light to import. Everything heavy is imported inside functions.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FEATURE_MODULES", "FIXTURE_MODULES", "feature_modules"]

FEATURE_MODULES: tuple[str, ...] = (
    "pytest_causal_eval.baseline.feature",
    "pytest_causal_eval.environment.feature",
    "pytest_causal_eval.profiling.feature",
    "pytest_causal_eval.report.feature",
    "pytest_causal_eval.ab.feature",
)

FIXTURE_MODULES: tuple[str, ...] = (
    "pytest_causal_eval.environment.fixtures",
    "pytest_causal_eval.engine_fixture",
)


def feature_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in FEATURE_MODULES]
