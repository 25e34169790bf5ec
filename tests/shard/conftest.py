"""Sharding tests run the plugin in process (pytester)."""

from __future__ import annotations

import pytest_causal_eval.shard.plugin  # noqa: F401 - imported once, before pytester's in-process runs (see tests/conftest.py)
