from __future__ import annotations

from pathlib import Path

import pytest

# ``data_dir`` (the committed data/ folder, or --data DIR) comes from the repository's conftest.py.


@pytest.fixture(scope="session")
def cladder_dir(data_dir: Path) -> Path:
    return data_dir / "cladder"


@pytest.fixture(scope="session")
def bbh_dir(data_dir: Path) -> Path:
    return data_dir / "bbh-causal-judgement"
