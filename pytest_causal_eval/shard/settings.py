"""The sharding feature's settings, typed: what ``shard.feature.configure`` reads from the resolved
options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_causal_eval.options import Settings

if TYPE_CHECKING:
    from pytest_causal_eval.shard.assign import Shard

__all__ = ["ShardSettings"]


@dataclass(frozen=True)
class ShardSettings:
    """The sharding feature's settings, typed (their defaults are the ``OPTIONS`` of ``shard.feature``)."""

    shard: Shard | None  # None: run every selected test
    durations: Path | None  # a results file whose durations balance the shards

    @classmethod
    def of(cls, settings: Settings) -> ShardSettings:
        return cls(shard=settings["shard"], durations=settings["shard_durations"])
