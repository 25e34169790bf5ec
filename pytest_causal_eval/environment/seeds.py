"""Seeds for random, numpy and torch, and the generator states to put back afterwards."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["RngState", "capture_rng", "restore_rng", "seed_all"]


@dataclass
class RngState:
    python: Any
    numpy: Any
    torch: Any
    torch_cuda: Any
    hashseed: str | None


def _numpy() -> Any:
    import numpy

    return numpy


def _torch(import_it: bool) -> Any:
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if not import_it:
        return None
    import torch

    return torch


def _cuda_ready(torch: Any) -> bool:
    try:
        return bool(torch.cuda.is_available() and torch.cuda.is_initialized())
    except Exception:
        return False


def capture_rng() -> RngState:
    torch = _torch(False)
    return RngState(
        python=random.getstate(),
        numpy=_numpy().random.get_state(),
        torch=torch.get_rng_state() if torch is not None else None,
        torch_cuda=torch.cuda.get_rng_state_all() if torch is not None and _cuda_ready(torch) else None,
        hashseed=os.environ.get("PYTHONHASHSEED"),
    )


def seed_all(seed: int, use_torch: bool = False) -> list[str]:
    """Seed every generator in reach; returns the names of those seeded."""
    random.seed(seed)
    _numpy().random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed % 2**32)  # child processes
    seeded = ["random", "numpy", "PYTHONHASHSEED"]
    torch = _torch(use_torch)
    if torch is not None:
        torch.manual_seed(seed)  # seeds CUDA generators too
        seeded.append("torch")
    return seeded


def restore_rng(state: RngState) -> None:
    random.setstate(state.python)
    _numpy().random.set_state(state.numpy)
    if state.hashseed is None:
        os.environ.pop("PYTHONHASHSEED", None)
    else:
        os.environ["PYTHONHASHSEED"] = state.hashseed
    torch = _torch(False)
    if torch is not None and state.torch is not None:
        torch.set_rng_state(state.torch)
    if torch is not None and state.torch_cuda is not None:
        torch.cuda.set_rng_state_all(state.torch_cuda)
