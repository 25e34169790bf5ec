from __future__ import annotations

import os
from pathlib import Path

import pytest

# The shared data lives beside the repository: <repo>/../shared/data
DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        reason = f"shared data directory not found at {DATA_DIR} (expected beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI must provide it", pytrace=False)
        pytest.skip(reason)
    return DATA_DIR


@pytest.fixture(scope="session")
def cladder_dir(data_dir: Path) -> Path:
    return data_dir / "cladder"


@pytest.fixture(scope="session")
def bbh_dir(data_dir: Path) -> Path:
    return data_dir / "bbh-causal-judgement"
