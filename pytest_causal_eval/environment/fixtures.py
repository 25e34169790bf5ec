"""The bodies of the ``cpu_env`` and ``gpu_env`` fixtures (declared in ``plugin.py``). They tune
whether or not ``--causal-eval`` is on (recording happens only when it is). The tuning modules load
when a test asks for a fixture, and torch only for ``gpu_env``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.environment.cpu import CPU_ENV_KEY
from pytest_causal_eval.environment.gpu import GPU_ENV_KEY

if TYPE_CHECKING:
    from pytest_causal_eval.environment.cpu import CpuEnv
    from pytest_causal_eval.environment.gpu import GpuEnv

__all__ = ["cpu_env_fixture", "gpu_env_fixture", "open_gpu_env"]


def _marker_values(node: pytest.Item, keys: Any) -> dict[str, Any]:
    from pytest_causal_eval.markers import item_markers

    return {k: v for k, v in item_markers(node).values.items() if k in keys}


def _require_gpu(config: pytest.Config) -> bool:
    from pytest_causal_eval.environment.settings import OPTIONS, EnvironmentSettings
    from pytest_causal_eval.options import resolve_settings

    return EnvironmentSettings.of(resolve_settings(config, OPTIONS)).require_gpu


def open_gpu_env(node: pytest.Item, config: pytest.Config) -> GpuEnv:
    """A configured GpuEnv for ``node``; skips without CUDA (fails under --causal-eval-require-gpu)."""
    from pytest_causal_eval.environment.gpu import GPU_MARKER_KEYS, GpuEnv, GpuEnvError, cuda_status
    from pytest_causal_eval.measure.workers import workers_of

    usable, reason = cuda_status()
    if not usable:
        if _require_gpu(config):
            pytest.fail(f"gpu_env: {reason}; --causal-eval-require-gpu is set", pytrace=False)
        pytest.skip(f"gpu_env: {reason}")
    env = GpuEnv(worker=workers_of(config).index)
    try:
        env.configure_from(_marker_values(node, GPU_MARKER_KEYS))
    except GpuEnvError as exc:
        env.restore()
        pytest.fail(f"@pytest.mark.causal_eval: {exc}", pytrace=False)
    return env


def cpu_env_fixture(request: pytest.FixtureRequest) -> Iterator[CpuEnv]:
    """Threads, affinity, gc policy and seeds for this test; all restored afterwards.

    Configure with ``@pytest.mark.causal_eval(threads=2, affinity="0-1", gc="frozen", seed=0)`` or
    ``cpu_env.configure(threads=2, ...)``. Recorded in ``measurement.extra["cpu_env"]`` when on.
    """
    from pytest_causal_eval.environment.cpu import CPU_MARKER_KEYS, CpuEnv, CpuEnvError

    env = CpuEnv()
    node = request.node
    node.stash[CPU_ENV_KEY] = env
    try:
        try:
            env.configure_from(_marker_values(node, (*CPU_MARKER_KEYS, "gc")))
        except CpuEnvError as exc:
            pytest.fail(f"@pytest.mark.causal_eval: {exc}", pytrace=False)
        yield env
    finally:
        env.restore()
        if CPU_ENV_KEY in node.stash:
            del node.stash[CPU_ENV_KEY]


def gpu_env_fixture(request: pytest.FixtureRequest) -> Iterator[GpuEnv]:
    """CUDA device, memory fraction, TF32/cudnn/determinism switches and autocast precision.

    Skipped when CUDA is absent (failed under ``--causal-eval-require-gpu``). Under xdist each
    worker takes its own GPU when there are several. The test's measurements are timed with CUDA
    events and get ``gpu_peak_allocated``/``gpu_peak_reserved`` metrics when the plugin is on.
    """
    node = request.node
    env = open_gpu_env(node, request.config)
    node.stash[GPU_ENV_KEY] = env
    try:
        yield env
    finally:
        env.restore()
        if GPU_ENV_KEY in node.stash:
            del node.stash[GPU_ENV_KEY]
