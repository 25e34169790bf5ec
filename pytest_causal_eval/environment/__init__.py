"""The environment a run happens in: fingerprint, health, tuning (cpu_env / gpu_env), xdist timing."""

from __future__ import annotations

from pytest_causal_eval.environment.cpu import CpuEnv
from pytest_causal_eval.environment.fingerprint import collect_environment, cpu_model, git_info
from pytest_causal_eval.environment.gpu import AdaptiveResult, GpuEnv, adaptive_batch

__all__ = [
    "AdaptiveResult",
    "CpuEnv",
    "GpuEnv",
    "adaptive_batch",
    "collect_environment",
    "cpu_model",
    "git_info",
]
