from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .services import RedisServer, unavailable

# ``data_dir`` (the committed data/ folder, or --data DIR) comes from the repository's conftest.py.


@pytest.fixture(scope="session")
def cladder_dir(data_dir: Path) -> Path:
    return data_dir / "cladder"


@pytest.fixture(scope="session")
def bbh_dir(data_dir: Path) -> Path:
    return data_dir / "bbh-causal-judgement"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on 127.0.0.1 (no persistence), stopped at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def doomed_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test's own, for tests that kill it mid-run."""
    server = RedisServer(tmp_path_factory.mktemp("doomed-redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def torch_available() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        unavailable("torch not installed (extra 'torch')")
