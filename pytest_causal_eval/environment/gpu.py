"""``GpuEnv`` (the ``gpu_env`` fixture), GPU facts, device choice and ``adaptive_batch``.

torch is imported only by functions that need it (a test asking for ``gpu_env`` asks for torch).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest

__all__ = [
    "GPU_ENV_KEY",
    "GPU_MARKER_KEYS",
    "PRECISIONS",
    "AdaptiveResult",
    "GpuEnv",
    "GpuEnvError",
    "adaptive_batch",
    "choose_device_index",
    "cuda_status",
    "gpu_info",
    "is_out_of_memory",
]

PRECISIONS = ("fp32", "fp16", "bf16")
_DTYPES = {"fp16": "float16", "bf16": "bfloat16"}

from pytest_causal_eval.environment.keys import GPU_MARKER_KEYS  # noqa: E402 - re-exported

T = TypeVar("T")


class GpuEnvError(ValueError):
    """A bad gpu_env setting; the message names the setting and what is allowed."""


def _torch() -> Any:
    import torch

    return torch


def cuda_status() -> tuple[bool, str]:
    """(usable, reason when not): torch installed, built with CUDA, and a device present."""
    try:
        torch = _torch()
    except ImportError:
        return False, "torch is not installed"
    try:
        if not torch.cuda.is_available():
            return False, "CUDA is not available (no GPU or a CPU-only torch build)"
        if int(torch.cuda.device_count()) < 1:
            return False, "no CUDA device is visible"
    except Exception as exc:  # driver errors surface here
        return False, f"CUDA could not be initialised: {exc}"
    return True, ""


def choose_device_index(requested: Any, device_count: int, worker: int | None) -> int:
    """'cuda:N' -> N; 'cuda' or None -> worker index modulo the device count (xdist), else 0."""
    if device_count < 1:
        raise GpuEnvError("gpu_env device=: no CUDA device is visible")
    if requested is None or requested == "cuda":
        return worker % device_count if worker is not None else 0
    text = str(requested)
    if text.startswith("cuda:") and text[5:].isdigit():
        index = int(text[5:])
        if index >= device_count:
            raise GpuEnvError(
                f"gpu_env device={text!r}: only {device_count} CUDA device(s) are visible "
                f"(cuda:0 to cuda:{device_count - 1})"
            )
        return index
    raise GpuEnvError(f"gpu_env device=: expected 'cuda' or 'cuda:N', got {requested!r}")


def gpu_info(torch: Any = None, index: int | None = None) -> dict[str, Any]:
    """Device name, capability and memory, CUDA and cuDNN versions (for the results' environment)."""
    torch = torch if torch is not None else _torch()
    info: dict[str, Any] = {
        "torch": str(getattr(torch, "__version__", "")),
        "cuda": getattr(torch.version, "cuda", None),
        "cudnn": None,
        "device_count": int(torch.cuda.device_count()),
    }
    with contextlib.suppress(Exception):
        info["cudnn"] = torch.backends.cudnn.version()
    if index is not None:
        props = torch.cuda.get_device_properties(index)
        info["device"] = f"cuda:{index}"
        info["name"] = str(getattr(props, "name", "unknown"))
        info["total_memory"] = int(getattr(props, "total_memory", 0))
        major, minor = getattr(props, "major", None), getattr(props, "minor", None)
        if major is not None:
            info["capability"] = f"{major}.{minor}"
    return info


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise GpuEnvError(f"gpu_env {name}=: expected True or False, got {value!r}")
    return value


class GpuEnv:
    """Selects a device and switches, restores them afterwards, reads peak memory."""

    def __init__(self, torch: Any = None, worker: int | None = None) -> None:
        self.torch = torch if torch is not None else _torch()
        self.worker = worker
        cuda = self.torch.cuda
        self.index = choose_device_index(None, int(cuda.device_count()), worker)
        self.precision = "fp32"
        self.settings: dict[str, Any] = {}
        self._undo: list[Callable[[], None]] = []
        previous = int(cuda.current_device())
        cuda.set_device(self.index)
        self._undo.append(lambda: cuda.set_device(previous))

    @property
    def device(self) -> str:
        return f"cuda:{self.index}"

    def configure(
        self,
        *,
        device: Any = None,
        precision: str | None = None,
        memory_fraction: float | None = None,
        tf32: bool | None = None,
        cudnn_benchmark: bool | None = None,
        deterministic: bool | None = None,
        alloc_conf: str | None = None,
    ) -> GpuEnv:
        """Apply settings now (each is restored when the test ends). Returns self."""
        torch, cuda = self.torch, self.torch.cuda
        if device is not None:
            index = choose_device_index(device, int(cuda.device_count()), self.worker)
            cuda.set_device(index)
            self.index = index
            self.settings["device"] = self.device
        if precision is not None:
            if precision not in PRECISIONS:
                raise GpuEnvError(
                    f"gpu_env precision=: expected one of {', '.join(PRECISIONS)}, got {precision!r}"
                )
            self.precision = precision
            self.settings["precision"] = precision
        if memory_fraction is not None:
            if (
                isinstance(memory_fraction, bool)
                or not isinstance(memory_fraction, (int, float))
                or not 0 < float(memory_fraction) <= 1
            ):
                raise GpuEnvError(
                    f"gpu_env memory_fraction=: expected a number in (0, 1], got {memory_fraction!r}"
                )
            index = self.index
            before = float(cuda.get_per_process_memory_fraction(index))
            cuda.set_per_process_memory_fraction(float(memory_fraction), index)
            self._undo.append(lambda: cuda.set_per_process_memory_fraction(before, index))
            self.settings["memory_fraction"] = float(memory_fraction)
        if tf32 is not None:
            value = _flag("tf32", tf32)
            self._set_attr(torch.backends.cuda.matmul, "allow_tf32", value)
            self._set_attr(torch.backends.cudnn, "allow_tf32", value)
            self.settings["tf32"] = value
        if cudnn_benchmark is not None:
            self._set_attr(torch.backends.cudnn, "benchmark", _flag("cudnn_benchmark", cudnn_benchmark))
            self.settings["cudnn_benchmark"] = cudnn_benchmark
        if deterministic is not None:
            value = _flag("deterministic", deterministic)
            was = bool(torch.are_deterministic_algorithms_enabled())
            torch.use_deterministic_algorithms(value)
            self._undo.append(lambda: torch.use_deterministic_algorithms(was))
            self._set_attr(torch.backends.cudnn, "deterministic", value)
            if value:
                self._set_env("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
            self.settings["deterministic"] = value
        if alloc_conf is not None:
            if not isinstance(alloc_conf, str):
                raise GpuEnvError(f"gpu_env alloc_conf=: expected a string, got {alloc_conf!r}")
            self._set_env("PYTORCH_CUDA_ALLOC_CONF", alloc_conf)
            self.settings["alloc_conf"] = alloc_conf
        return self

    def configure_from(self, values: dict[str, Any]) -> GpuEnv:
        known = {k: values[k] for k in GPU_MARKER_KEYS if k in values}
        return self.configure(**known) if known else self

    @property
    def dtype(self) -> Any:
        """The torch dtype of the chosen precision."""
        return getattr(self.torch, _DTYPES.get(self.precision, "float32"))

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` on CUDA with the chosen precision; fp32 runs as is."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return self.torch.autocast(device_type="cuda", dtype=self.dtype)  # type: ignore[no-any-return]

    def reset_peak(self) -> None:
        self.torch.cuda.reset_peak_memory_stats(self.index)

    def peak(self) -> tuple[int, int]:
        """(peak allocated, peak reserved) bytes since the last reset."""
        cuda = self.torch.cuda
        return int(cuda.max_memory_allocated(self.index)), int(cuda.max_memory_reserved(self.index))

    def describe(self) -> dict[str, Any]:
        info = gpu_info(self.torch, self.index)
        info.update(precision=self.precision, settings=dict(self.settings))
        return info

    def restore(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            with contextlib.suppress(Exception):
                undo()

    # -- helpers -----------------------------------------------------------------------------------
    def _set_attr(self, obj: Any, name: str, value: Any) -> None:
        before = getattr(obj, name)
        setattr(obj, name, value)
        self._undo.append(lambda: setattr(obj, name, before))

    def _set_env(self, name: str, value: str) -> None:
        before = os.environ.get(name)
        os.environ[name] = value

        def undo() -> None:
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before

        self._undo.append(undo)


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA out-of-memory error (torch's class, or the message of older builds)."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch else None
    if isinstance(oom_type, type) and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@dataclass(frozen=True)
class AdaptiveResult(Generic[T]):
    value: T
    batch_size: int
    attempts: int


def adaptive_batch(
    fn: Callable[[int], T],
    batch_size: int,
    min_batch: int = 1,
    *,
    is_oom: Callable[[BaseException], bool] = is_out_of_memory,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> AdaptiveResult[T]:
    """Call ``fn(batch_size)``; on CUDA out-of-memory free the cache, halve the batch and retry.

    Stops at ``min_batch``: an out-of-memory there is raised unchanged. Other errors propagate.
    """
    for label, value in (("batch_size", batch_size), ("min_batch", min_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"adaptive_batch: {label} must be a positive integer, got {value!r}")
    if min_batch > batch_size:
        raise ValueError(f"adaptive_batch: min_batch ({min_batch}) must not exceed batch_size ({batch_size})")
    size, attempts = batch_size, 0
    while True:
        attempts += 1
        try:
            return AdaptiveResult(fn(size), size, attempts)
        except Exception as exc:
            if size <= min_batch or not is_oom(exc):
                raise
            _empty_cache()
            size = max(min_batch, size // 2)
            if on_retry is not None:
                on_retry(size, exc)


def _empty_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()


#: The test's GpuEnv while ``gpu_env`` (or a device marker) is active.
GPU_ENV_KEY: pytest.StashKey[GpuEnv] = pytest.StashKey()
