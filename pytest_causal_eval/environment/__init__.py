"""The environment a run happens in: fingerprint, health, tuning."""

from __future__ import annotations

from pytest_causal_eval.environment.fingerprint import collect_environment, cpu_model, git_info

__all__ = ["collect_environment", "cpu_model", "git_info"]
