"""Baselines and the regression gate: options, marker keys, and wiring the gate plugin.

Options: ``--causal-eval-baselines DIR``, ``--causal-eval-save``, ``--causal-eval-force-save``,
``--causal-eval-machine KEY``, ``--causal-eval-threshold PCT``, ``--causal-eval-strict``,
``--causal-eval-remeasure N``, ``--causal-eval-remeasure-busy N`` and ``--causal-eval-confirm N``
(the Markdown verdicts, ``--causal-eval-markdown``, are written by the report feature).
Marker keys: ``threshold`` and ``metric_thresholds``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.options import OptionSpec, parse_bool
from pytest_causal_eval.stats.thresholds import DEFAULT_THRESHOLD, Threshold, parse_threshold

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["GATE_PLUGIN_NAME", "MARKER_KEYS", "MARKER_PARSERS", "OPTIONS", "configure"]

GATE_PLUGIN_NAME = "causal_eval_baseline"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# A key names files: <key>.json, its temporaries and <key>.json.unreadableN must fit a file name
# (255 bytes on most filesystems).
MAX_KEY_LENGTH = 128


def parse_dir_path(text: str) -> Path:
    if not str(text).strip():
        raise ValueError("expected a directory path, got an empty value")
    return Path(str(text).strip()).expanduser()


def parse_machine_key(text: str) -> str:
    value = str(text).strip()
    if value.endswith(".json"):
        value = value[: -len(".json")]
    if not _KEY.match(value):
        raise ValueError(
            f"expected a machine key such as linux-x86_64-py3.11-8c-3f2a9c1b "
            f"(letters, digits, '.', '_', '-'), got {text!r}"
        )
    if len(value) > MAX_KEY_LENGTH:
        raise ValueError(
            f"a machine key names a file and may have at most {MAX_KEY_LENGTH} characters, "
            f"got {len(value)} ({value[:24]}...)"
        )
    return value


def parse_global_threshold(text: str) -> Threshold:
    threshold = parse_threshold(text)
    if threshold.kind != "relative":
        raise ValueError(f"expected a percentage such as 10% or 5%, got {text!r}")
    return threshold


def parse_extra_passes(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"expected a number of extra measuring passes from 0 to 5, got {text!r}") from None
    if not 0 <= value <= 5:
        raise ValueError(f"expected a number of extra measuring passes from 0 to 5, got {text!r}")
    return value


def parse_busy_passes(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"expected a number of fresh measuring passes from 0 to 3, got {text!r}") from None
    if not 0 <= value <= 3:
        raise ValueError(f"expected a number of fresh measuring passes from 0 to 3, got {text!r}")
    return value


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "baselines",
        "Directory of baseline files, one per machine key (default: baselines/ under the rootdir).",
        None,
        parse_dir_path,
        metavar="DIR",
    ),
    OptionSpec(
        "save",
        "Write or update this machine's baseline from this run's passing measurements (no comparing; "
        "needs --causal-eval).",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "force_save",
        "With --causal-eval-save: save even into a baseline file recorded on another machine (it takes "
        "this machine's fingerprint; its other entries are kept).",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "machine",
        "Compare against (and save to) the baseline of this machine key instead of this machine's own.",
        None,
        parse_machine_key,
        metavar="KEY",
    ),
    OptionSpec(
        "threshold",
        "Fail a measurement that got more than this much worse, significantly (default 10%).",
        DEFAULT_THRESHOLD,
        parse_global_threshold,
        metavar="PCT",
    ),
    OptionSpec(
        "strict",
        "Fail inconclusive comparisons (too noisy to decide) instead of warning, and a run whose "
        "baseline could not be used (unreadable, another machine's) or saved.",
        False,
        parse_bool,
        is_flag=True,
    ),
    OptionSpec(
        "remeasure",
        "Extra measuring passes when a comparison is too noisy to decide (0-5, default 2).",
        2,
        parse_extra_passes,
        metavar="N",
    ),
    OptionSpec(
        "remeasure_busy",
        "Fresh measuring passes for a time regression measured while other processes used "
        "--causal-eval-max-foreign-load or more of the CPUs: its rounds and load reading are replaced "
        "by the new pass's, which is judged again (0-3, default 1; 0: leave it inconclusive).",
        1,
        parse_busy_passes,
        metavar="N",
    ),
    OptionSpec(
        "confirm",
        "Fresh measuring passes for a time regression before it fails; the fastest pass gives the "
        "verdict (a slow spell of a shared machine rarely covers two); with --causal-eval-save, "
        "passes measured in addition, the fastest saved (0-3, default 1; 0: one pass decides).",
        1,
        parse_busy_passes,
        metavar="N",
    ),
)

MARKER_KEYS: dict[str, str] = {
    "threshold": "regression threshold of this test, e.g. '5%' (or 'off')",
    "metric_thresholds": "per-metric thresholds, e.g. {'accuracy': '2pts', 'rss_growth': '20%'}",
}


def parse_marker_threshold(value: Any) -> Threshold:
    """A test's threshold: a percentage such as 5% (or off); points are per metric."""
    threshold = parse_threshold(value)
    if threshold.kind == "absolute":
        raise ValueError(
            f"a test's threshold is a percentage such as 5% (or off); use metric_thresholds for points, "
            f"got {value!r}"
        )
    return threshold


def parse_metric_thresholds(value: Any) -> dict[str, Threshold]:
    """``{'accuracy': '2pts', 'rss_growth': '20%'}``."""
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a dict such as {{'accuracy': '2pts'}}, got {value!r}")
    parsed: dict[str, Threshold] = {}
    for name, raw in value.items():
        try:
            parsed[str(name)] = parse_threshold(raw)
        except ValueError as exc:
            raise ValueError(f"{{{name!r}: ...}}: {exc}") from None
    return parsed


#: Parsed at collection into the test's marker config.
MARKER_PARSERS: dict[str, Callable[[Any], Any]] = {
    "threshold": parse_marker_threshold,
    "metric_thresholds": parse_metric_thresholds,
}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Register the gate (judging, saving, verdict reports) for this enabled run."""
    from pytest_causal_eval.baseline.plugin import BaselineGate

    config.pluginmanager.register(BaselineGate(config, session), GATE_PLUGIN_NAME)
