"""Suite-wide parameters for the benchmark suites (and nothing else)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Questions per evaluation in the suites; CAUSAL_EVAL_SUITE_N overrides it (e.g. 2000 on a GPU runner).
SUITE_N = int(os.environ.get("CAUSAL_EVAL_SUITE_N", "200"))
#: Batch sizes every engine suite is parametrized over.
BATCH_SIZES = (1, 32, 256)
#: Seed of every generated question stream, so every run sees the same questions.
SUITE_SEED = 20261125
#: Real causal-reasoning data (CLadder, BIG-Bench Hard) beside the repository.
SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def suite_n() -> int:
    return SUITE_N


@pytest.fixture(scope="session")
def suite_seed() -> int:
    return SUITE_SEED


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        reason = f"the shared causal-reasoning data is not beside the repository ({SHARED_DATA})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return SHARED_DATA
