from __future__ import annotations

import contextlib
from typing import Any

# Loaded once here: pytester forgets modules a run imported, and numpy/torch cannot be imported twice.
import numpy  # noqa: F401
import pytest

from .envfakes import FAKE_CUDA_SOURCE

with contextlib.suppress(ImportError):
    import torch  # noqa: F401


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("torch")
    namespace: dict[str, Any] = {}
    exec(FAKE_CUDA_SOURCE, namespace)
    return namespace["FakeCuda"]().install(monkeypatch)
