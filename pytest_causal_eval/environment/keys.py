"""The environment's marker keys and the CUDA timer's stash key (light to import: option parsing
reads the marker keys). The fixtures' own stash keys live with their classes (``cpu``, ``gpu``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_causal_eval.measure.cuda import CudaEventTimer

__all__ = ["CPU_MARKER_KEYS", "CUDA_TIMER_KEY", "GPU_MARKER_KEYS"]

CUDA_TIMER_KEY: pytest.StashKey[CudaEventTimer] = pytest.StashKey()

# Marker keys of the fixtures, here so option parsing does not import the fixtures' machinery.
CPU_MARKER_KEYS: dict[str, str] = {
    "threads": "cpu_env: intra-op/BLAS/OpenMP thread count",
    "interop_threads": "cpu_env: torch inter-op thread count (torch allows it once per process)",
    "affinity": "cpu_env: CPUs to pin the test to, e.g. '0-1' or [0, 1]",
    "seed": "cpu_env: seed for random, numpy and torch",
}

GPU_MARKER_KEYS: dict[str, str] = {
    "device": "gpu_env: cuda, cuda:N (CUDA timing for the test's measurements)",
    "precision": "gpu_env: autocast precision fp32, fp16 or bf16",
    "memory_fraction": "gpu_env: per-process GPU memory fraction in (0, 1]",
    "tf32": "gpu_env: allow TF32 matmuls/convolutions (bool)",
    "cudnn_benchmark": "gpu_env: torch.backends.cudnn.benchmark (bool)",
    "deterministic": "gpu_env: deterministic algorithms (bool)",
    "alloc_conf": "gpu_env: PYTORCH_CUDA_ALLOC_CONF for child processes",
}
