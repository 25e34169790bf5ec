"""The environment a run happens in: fingerprint, health, tuning (cpu_env / gpu_env), xdist timing.

The names below are loaded on first use, so that importing one small module of this package (as
option parsing does) does not import the tuning machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "AdaptiveResult": "gpu",
    "CpuEnv": "cpu",
    "GpuEnv": "gpu",
    "adaptive_batch": "gpu",
    "collect_environment": "fingerprint",
    "cpu_model": "fingerprint",
    "git_info": "fingerprint",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
