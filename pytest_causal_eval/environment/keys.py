"""Stash keys shared by the environment fixtures and the environment plugin (light to import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.environment.cpu import CpuEnv
    from pytest_causal_eval.environment.gpu import GpuEnv
    from pytest_causal_eval.measure.cuda import CudaEventTimer

__all__ = ["CPU_ENV_KEY", "CUDA_TIMER_KEY", "GPU_ENV_KEY"]

CPU_ENV_KEY: pytest.StashKey[CpuEnv] = pytest.StashKey()
GPU_ENV_KEY: pytest.StashKey[GpuEnv] = pytest.StashKey()
CUDA_TIMER_KEY: pytest.StashKey[CudaEventTimer] = pytest.StashKey()
