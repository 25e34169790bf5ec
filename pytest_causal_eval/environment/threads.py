"""Thread counts of the numerical libraries: torch, BLAS/OpenMP (threadpoolctl), child-process env vars.

torch is touched only when it is already imported or the caller asks for it; threadpoolctl sees
only libraries already loaded, and the environment variables cover the ones loaded later and
child processes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "THREAD_ENV_VARS",
    "ThreadState",
    "apply_threads",
    "blas_threads",
    "capture_threads",
    "restore_threads",
    "torch_threads",
]

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@dataclass
class ThreadState:
    """What to put back: env variables, per-library BLAS/OpenMP threads, torch intra-op threads."""

    env: dict[str, str | None] = field(default_factory=dict)
    blas: dict[str, int] = field(default_factory=dict)  # library file path -> threads
    torch_threads: int | None = None


def _torch(import_it: bool) -> Any:
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if not import_it:
        return None
    import torch

    return torch


def _controllers() -> list[Any]:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    return list(ThreadpoolController().lib_controllers)


def blas_threads() -> list[dict[str, Any]]:
    """The loaded BLAS/OpenMP libraries and their current thread counts (empty without threadpoolctl)."""
    return [
        {"api": c.internal_api, "library": os.path.basename(c.filepath), "threads": int(c.num_threads)}
        for c in _controllers()
    ]


def torch_threads() -> dict[str, int] | None:
    """torch's intra- and inter-op thread counts when torch is imported, else None (never imports it)."""
    torch = _torch(False)
    if torch is None:
        return None
    return {"intra_op": int(torch.get_num_threads()), "inter_op": int(torch.get_num_interop_threads())}


def capture_threads() -> ThreadState:
    torch = _torch(False)
    return ThreadState(
        env={name: os.environ.get(name) for name in THREAD_ENV_VARS},
        blas={c.filepath: int(c.num_threads) for c in _controllers()},
        torch_threads=int(torch.get_num_threads()) if torch is not None else None,
    )


def apply_threads(
    threads: int | None, interop_threads: int | None = None, use_torch: bool = False
) -> dict[str, Any]:
    """Set thread counts; returns what was applied (recorded with the measurement)."""
    applied: dict[str, Any] = {}
    if threads is not None:
        for name in THREAD_ENV_VARS:
            os.environ[name] = str(threads)
        applied["env"] = threads
        controllers = _controllers()
        for c in controllers:
            c.set_num_threads(threads)
        applied["blas_libraries"] = len(controllers)
    torch = _torch(use_torch or interop_threads is not None)
    if torch is not None:
        if threads is not None:
            torch.set_num_threads(threads)
            applied["torch_intra_op"] = threads
        if interop_threads is not None and torch.get_num_interop_threads() != interop_threads:
            try:
                torch.set_num_interop_threads(interop_threads)
                applied["torch_inter_op"] = interop_threads
            except RuntimeError as exc:
                # torch accepts this once per process, before any parallel work.
                applied["torch_inter_op_error"] = str(exc).strip()
    return applied


def restore_threads(state: ThreadState) -> None:
    """Put thread counts back as captured, whatever changed them meanwhile (the test included)."""
    for name, value in state.env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for c in _controllers():
        original = state.blas.get(c.filepath)
        if original is not None and int(c.num_threads) != original:
            c.set_num_threads(original)
    torch = _torch(False)
    wanted = state.torch_threads
    if torch is not None and wanted is not None and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
