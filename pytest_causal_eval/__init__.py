"""pytest-causal-eval: benchmark AI-model evaluation pipelines and gate regressions in pytest.

``from pytest_causal_eval import CausalBench`` names the ``causal_bench`` fixture's type for
annotations (loaded on first use, so importing the package stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_causal_eval.bench import CausalBench

__version__ = "0.1.0"

__all__ = ["CausalBench", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "CausalBench":
        from pytest_causal_eval.bench import CausalBench

        return CausalBench
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
