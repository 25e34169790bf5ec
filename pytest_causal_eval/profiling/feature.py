"""Profiling feature wiring: ``--causal-eval-profile``, ``--causal-eval-profile-on-regression``, the
``memory_limit``/``leak_limit`` marker keys, and registering the profiling plugin when enabled.

Light to import: pyinstrument, memray and torch are imported only inside the profiling passes.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.options import OptionSpec, parse_bool
from pytest_causal_eval.profiling.settings import LIMIT_MARKER_KEYS as _LIMIT_KEYS
from pytest_causal_eval.profiling.settings import (
    ProfilingSettings,
    parse_profile_mode,
    parse_rate,
    parse_size,
    wants_cpu,
)

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "profile",
        "Profile every measurement in an untimed pass after its timed rounds: off, cpu (pyinstrument "
        "hotspots, HTML and speedscope), memory (memray or tracemalloc: peak, allocation sites, leak "
        "check) or all (default off).",
        "off",
        parse_profile_mode,
        metavar="off|cpu|memory|all",
    ),
    OptionSpec(
        "profile_on_regression",
        "Profile a measurement that regressed against the baseline right then, to explain it (default yes).",
        True,
        parse_bool,
        metavar="yes|no",
    ),
)
MARKER_KEYS: dict[str, str] = dict(_LIMIT_KEYS)
#: Checked at collection; the profiling plugin reads the values as written.
MARKER_PARSERS: dict[str, Callable[[Any], Any]] = {
    "memory_limit": lambda value: (parse_size(value), value)[1],
    "leak_limit": lambda value: (parse_rate(value), value)[1],
}


def _package_parents() -> list[str]:
    """Directories holding imported top-level packages (editable installs live outside sys.path), so
    hotspots read ``pkg/module.py`` instead of a machine's absolute path; deepest first."""
    parents: set[str] = set()
    for name, module in list(sys.modules.items()):
        if "." in name:
            continue
        # read the attribute without running a module-level __getattr__: lazy packages (transformers)
        # import a submodule on any unknown attribute, and that import may fail (no torch)
        try:
            path = vars(module).get("__path__")
            first = next(iter(path), None) if path else None
        except Exception:  # None (a blocked import), no __dict__, a path that cannot be iterated
            continue
        if isinstance(first, str) and first:
            parents.add(os.path.dirname(os.path.abspath(first)))
    return sorted(parents, key=len, reverse=True)


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled: register the profiling plugin object."""
    from pytest_causal_eval.instructions.settings import InstructionSettings
    from pytest_causal_eval.profiling.artifacts import ArtifactStore
    from pytest_causal_eval.profiling.cpu import pyinstrument_missing
    from pytest_causal_eval.profiling.plugin import PLUGIN_NAME, ProfilingPlugin
    from pytest_causal_eval.session import marker_kwargs

    settings = ProfilingSettings.of(session.settings)
    mode = settings.profile
    if wants_cpu(mode):
        missing = pyinstrument_missing()
        if missing is not None:
            raise pytest.UsageError(f"--causal-eval-profile={mode} needs pyinstrument: {missing}")
    base = config.invocation_params.dir
    report = session.settings.report_dir
    store = ArtifactStore(report if report.is_absolute() else base / report, base)
    roots = [str(config.rootpath), sysconfig.get_paths()["stdlib"], *_package_parents()]
    plugin = ProfilingPlugin(
        mode=mode,
        on_regression=settings.on_regression,
        store=store,
        roots=roots,
        marker_kwargs=marker_kwargs,
    )
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    if InstructionSettings.of(session.settings).counts_instructions:
        from pytest_causal_eval.profiling.instruction_plugin import PLUGIN_NAME as INSTRUCTION_PLUGIN
        from pytest_causal_eval.profiling.instruction_plugin import InstructionHotspotsPlugin
        from pytest_causal_eval.profiling.plugin import HARNESS_PREFIXES

        config.pluginmanager.register(InstructionHotspotsPlugin(roots, HARNESS_PREFIXES), INSTRUCTION_PLUGIN)
