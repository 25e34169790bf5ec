"""Feature wiring for sharding a suite across runners (the A/B command itself is ``causal-eval ab``).

Options: ``--causal-eval-shard K/N`` runs only shard K of N (by a stable hash of the test id), and
``--causal-eval-shard-durations RESULTS.json`` balances the shards by the measuring durations a
previous run recorded. ``causal-eval merge`` joins the shards' results files afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.options import OptionSpec
from pytest_causal_eval.shard.settings import ShardSettings

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession
    from pytest_causal_eval.shard.assign import Shard

__all__ = ["MARKER_KEYS", "OPTIONS", "configure"]


def _parse_shard(text: str) -> Shard:
    from pytest_causal_eval.shard.assign import parse_shard  # imported when the flag is used

    return parse_shard(text)


def parse_results_path(text: str) -> Path:
    if not str(text).strip():
        raise ValueError("expected the path of a results file written by --causal-eval-json")
    return Path(str(text).strip()).expanduser()


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "shard",
        "Run only shard K of N (K from 1 to N) of the selected tests; `causal-eval merge` joins the results.",
        None,
        _parse_shard,
        metavar="K/N",
    ),
    OptionSpec(
        "shard_durations",
        "Balance the shards by the durations recorded in this results file (--causal-eval-json).",
        None,
        parse_results_path,
        metavar="RESULTS.json",
    ),
)
MARKER_KEYS: dict[str, str] = {}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Register the sharding plugin when ``--causal-eval-shard`` is given."""
    settings = ShardSettings.of(session.settings)
    shard, source = settings.shard, settings.durations
    if shard is None:
        if source is not None:
            raise pytest.UsageError(
                "--causal-eval-shard-durations needs --causal-eval-shard K/N (which shard to run)"
            )
        return
    from pytest_causal_eval.shard.plugin import SHARD_PLUGIN_NAME, ShardPlugin, load_durations

    durations = load_durations(source) if source is not None else None
    config.pluginmanager.register(ShardPlugin(shard, durations, source), SHARD_PLUGIN_NAME)
