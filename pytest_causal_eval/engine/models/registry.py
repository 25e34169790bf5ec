"""The registry of models by name: ``create_model(name, **options)`` and how to rebuild one elsewhere.

Built-in names: the reference models (``oracle``, ``constant``, ``random``, ``spin``,
``lookup``), ``replay``, and the adapters ``openai``, ``torch`` and ``hf``, whose modules (and
optional dependencies) load only when such a model is built. ``register_model`` adds names.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_causal_eval.engine.errors import EngineError, MissingDependencyError, UnknownNameError
from pytest_causal_eval.engine.models.base import Model
from pytest_causal_eval.engine.models.reference import (
    ConstantModel,
    LookupModel,
    OracleModel,
    RandomModel,
    SpinModel,
)
from pytest_causal_eval.engine.models.replay import ReplayModel

__all__ = [
    "MODELS",
    "ModelFactory",
    "ModelSpec",
    "create_model",
    "model_names",
    "model_spec",
    "register_model",
]


ModelFactory = Callable[..., Model]


@dataclass(frozen=True)
class ModelSpec:
    """How to rebuild a model in another process: a registry name and its options (JSON-like)."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Model:
        return create_model(self.name, **dict(self.options))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.options)}


def _lazy(module: str, attr: str, extras: str) -> ModelFactory:
    """A factory that imports ``module`` (of this subpackage) only when a model is created: the
    optional dependencies (torch, httpx, transformers) load with the first such model. One that is
    not installed is an :class:`EngineError` naming the package ``extras`` that installs it."""

    def factory(**options: Any) -> Model:
        try:
            loaded = importlib.import_module(f"pytest_causal_eval.engine.models.{module}")
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").partition(".")[0]
            if not missing or missing == "pytest_causal_eval":
                raise
            raise MissingDependencyError(
                f"the {module.removesuffix('_model')} model needs {missing}, which is not installed: "
                f"pip install 'pytest-causal-eval[{extras}]'",
                name=missing,
            ) from None
        model: Model = getattr(loaded, attr)(**options)
        return model

    factory.__name__ = f"{attr}_factory"
    return factory


MODELS: dict[str, ModelFactory] = {
    "oracle": OracleModel,
    "random": RandomModel,
    "constant": ConstantModel,
    "replay": ReplayModel,
    "spin": SpinModel,
    "lookup": LookupModel,
    "torch": _lazy("torch_model", "TorchModel", "torch"),
    "openai": _lazy("openai_model", "OpenAIModel", "http"),
    "hf": _lazy("hf_model", "HFModel", "torch,hf"),  # the hf model runs on the torch model's helpers
}


def register_model(name: str, factory: ModelFactory) -> None:
    """Make ``create_model(name, ...)`` build models with ``factory`` (e.g. HTTP or torch models)."""
    MODELS[name] = factory


def model_names() -> list[str]:
    return sorted(MODELS)


def create_model(name: str, **options: Any) -> Model:
    """A model by registry name; unknown names raise an error listing the valid ones.

    The model remembers how it was made (:func:`model_spec`), so process and Ray executors can
    rebuild it in their workers.
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise UnknownNameError("model", name, MODELS) from None
    try:
        model = factory(**options)
    except TypeError as exc:
        raise EngineError(f"bad options for model {name!r}: {exc}") from None
    with contextlib.suppress(AttributeError, TypeError):  # slotted/frozen objects: no spec
        setattr(model, "model_spec", ModelSpec(name, dict(options)))  # noqa: B010
    return model


def model_spec(model: Model) -> ModelSpec | None:
    """The spec ``create_model`` attached to ``model``, if any."""
    spec = getattr(model, "model_spec", None)
    return spec if isinstance(spec, ModelSpec) else None
