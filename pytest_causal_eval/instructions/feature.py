"""Feature wiring for instruction mode: options, the marker key, and the plugin object when enabled.

Options: ``--causal-eval-mode=time|instructions``, ``--causal-eval-cache-sim`` (callgrind's cache
simulator and the ``estimated_cycles`` metric), ``--causal-eval-allocator-cost`` (the memory
allocators' and address-indexed caches' calls at a fixed cost, or as executed) and
``--causal-eval-count-timeout`` (the time limit of one measurement's counted calls under valgrind).
The re-run under valgrind starts from ``plugin.pytest_cmdline_main`` (see ``reexec``); this module
only validates and registers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.instructions.settings import InstructionSettings
from pytest_causal_eval.measure.allocator import parse_allocator_cost
from pytest_causal_eval.options import OptionSpec, parse_bool, parse_duration

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = [
    "DEFAULT_COUNT_TIMEOUT",
    "MARKER_KEYS",
    "MODES",
    "OPTIONS",
    "PLUGIN_NAME",
    "configure",
    "parse_mode",
]

PLUGIN_NAME = "causal_eval_instructions"
MODES = ("time", "instructions")
DEFAULT_COUNT_TIMEOUT = 600.0


def parse_mode(text: str) -> str:
    lowered = str(text).strip().lower()
    if lowered not in MODES:
        raise ValueError(f"expected time or instructions, got {text!r}")
    return lowered


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "mode",
        "What the gate measures: time (wall time per call) or instructions (instructions per call, "
        "counted by valgrind's callgrind: the run is re-executed under valgrind; deterministic on a "
        "busy machine). Default time.",
        "time",
        parse_mode,
        metavar="time|instructions",
    ),
    OptionSpec(
        "cache_sim",
        "Instruction mode: also simulate the caches (L1/LL misses) and gate estimated_cycles "
        "(L1 hit 1, LL hit 5, RAM 35 cycles).",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "allocator_cost",
        "Instruction mode: count each call of the memory allocators (pymalloc, the C library's malloc "
        "family) and of lookups in tables indexed by addresses (CPython's type attribute cache and "
        "context variables, numpy's dispatch cache) at a fixed cost (fixed, the default: what they "
        "execute depends on where objects happen to lie, not on the code) or as executed.",
        "fixed",
        parse_allocator_cost,
        metavar="fixed|executed",
    ),
    OptionSpec(
        "count_timeout",
        "Instruction mode: time limit of one measurement's warm-up and counted calls under valgrind "
        "(default 10min); past it the test fails.",
        DEFAULT_COUNT_TIMEOUT,
        parse_duration,
        metavar="DURATION",
    ),
)

MARKER_KEYS: dict[str, str] = {
    "instructions": "instruction mode: False or a reason string skips the test's counting (say why)",
}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled: in instruction mode, register the counting plugin."""
    settings = InstructionSettings.of(session.settings)
    if not settings.counts_instructions:
        if settings.cache_sim:
            raise pytest.UsageError(
                f"{_where(session, 'cache_sim')} needs --causal-eval-mode=instructions "
                "(the cache simulator runs inside valgrind)"
            )
        return
    from pytest_causal_eval.instructions.plugin import InstructionPlugin

    plugin = InstructionPlugin(config, session)
    session.instructions = plugin
    config.pluginmanager.register(plugin, PLUGIN_NAME)


def _where(session: CausalEvalSession, dest: str) -> str:
    source = session.settings.sources.get(dest, "default")
    return f"ini option {source}" if source.startswith("causal_eval_") else source
