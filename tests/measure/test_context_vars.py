"""Context variables pinned while calls are counted (``measure.context_vars``)."""

from __future__ import annotations

import contextvars
import sys
import types

import pytest

from pytest_causal_eval.measure.context_vars import pinned_context_vars, unset_module_context_vars


def test_unset_variables_with_a_default_are_pinned_while_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("ctxvars_for_pinning")
    module.UNSET = contextvars.ContextVar("unset_with_default", default=3)  # type: ignore[attr-defined]
    module.NO_DEFAULT = contextvars.ContextVar("unset_without_default")  # type: ignore[attr-defined]
    module.SET = contextvars.ContextVar("set_already", default=0)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    token = module.SET.set(5)  # type: ignore[attr-defined]
    try:
        names = {var.name for var in unset_module_context_vars()}
        assert "unset_with_default" in names
        assert not {"unset_without_default", "set_already"} & names
        with pinned_context_vars() as pinned:
            assert "unset_with_default" in pinned
            assert module.UNSET in contextvars.copy_context()  # type: ignore[attr-defined]
            assert module.UNSET.get() == 3  # type: ignore[attr-defined]
            module.UNSET.set(4)  # type: ignore[attr-defined]  # the workload may still set it
        assert module.UNSET not in contextvars.copy_context()  # type: ignore[attr-defined]
        assert module.UNSET.get() == 3 and module.SET.get() == 5  # type: ignore[attr-defined]
    finally:
        module.SET.reset(token)  # type: ignore[attr-defined]
