"""Feature wiring (options, marker keys, configure); filled in by this feature's work."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_causal_eval.options import OptionSpec

if TYPE_CHECKING:
    from pytest_causal_eval.session import CausalEvalSession

OPTIONS: tuple[OptionSpec, ...] = ()
MARKER_KEYS: dict[str, str] = {}


def configure(config: pytest.Config, session: CausalEvalSession) -> None:
    """Called once when the plugin is enabled."""
