"""pytest-causal-eval: benchmark AI-model evaluation pipelines and gate regressions in pytest."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
