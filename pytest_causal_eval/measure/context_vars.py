"""Context variables that are read but never set, set to their own value while calls are counted.

``ContextVar.get`` caches a value it found in the current context, but not a default: a variable
that was never set is looked up in the context's hash trie on every read. numpy reads its error
state (``np.errstate``'s variable) on every ufunc call, and until a program uses ``np.errstate`` that
variable is unset. The trie is keyed by the variables' hashes, which mix in their addresses, so
whether numpy's variable shares a slot with another one (``decimal``'s, set by the first
``decimal.getcontext()``) depends on where each was allocated: in one run of an unchanged suite the
slot was shared and every ufunc call compared keys, 1.1% more instructions for a small workload.

While the calls are counted, each module-level variable with a default that the current context
does not hold is set to that default (the value every read returns anyway) and reset afterwards,
so its reads hit the cache, the same way in every run. A variable the workload sets itself still
works as usual on top. Only variables bound at module level are found (where libraries keep them).
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["pinned_context_vars", "unset_module_context_vars"]


def _has_default(var: contextvars.ContextVar[Any]) -> bool:
    """Whether ``var.get()`` returns a value where the variable is not set (a default given to
    ``get`` would take precedence over the variable's own, so it is asked without one)."""
    try:
        var.get()
    except LookupError:
        return False
    return True


def unset_module_context_vars() -> list[contextvars.ContextVar[Any]]:
    """Module-level ``ContextVar`` objects with a default that the current context does not hold."""
    current = contextvars.copy_context()
    found: dict[int, contextvars.ContextVar[Any]] = {}
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for value in list(namespace.values()):
            if type(value) is contextvars.ContextVar and value not in current and _has_default(value):
                found[id(value)] = value
    return sorted(found.values(), key=lambda var: var.name)


@contextmanager
def pinned_context_vars() -> Iterator[list[str]]:
    """Inside the block, every unset module-level variable holds its default; yields their names."""
    tokens = [(var, var.set(var.get())) for var in unset_module_context_vars()]
    try:
        yield [var.name for var, _ in tokens]
    finally:
        for var, token in reversed(tokens):
            with suppress(ValueError):  # the block ran in another context: nothing to undo here
                var.reset(token)
