"""``CpuEnv``: the object behind the ``cpu_env`` fixture.

It captures threads, affinity, generator states and the thread env variables when created, applies
what the test asks (marker or ``configure``), and puts everything back on ``restore()`` whatever
the test changed in between. ``describe()`` is what gets recorded with each measurement.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from pytest_causal_eval.environment import affinity as _aff
from pytest_causal_eval.environment import seeds as _seeds
from pytest_causal_eval.environment import threads as _threads
from pytest_causal_eval.measure.runner import GC_POLICIES, gc_policy

__all__ = ["CPU_ENV_KEY", "CPU_MARKER_KEYS", "CpuEnv", "CpuEnvError", "current_cpu_state"]

# Marker keys that configure cpu_env (``gc`` is a core marker key; cpu_env reads it too).
from pytest_causal_eval.environment.keys import CPU_MARKER_KEYS


class CpuEnvError(ValueError):
    """A bad cpu_env setting; the message names the setting and what is allowed."""


def current_cpu_state() -> dict[str, Any]:
    """Thread counts and affinity as they are now (no torch import)."""
    state: dict[str, Any] = {
        "affinity": _aff.format_cpu_list(_aff.available_cpus()),
        "env": {k: os.environ[k] for k in _threads.THREAD_ENV_VARS if k in os.environ},
        "blas": _threads.blas_threads(),
    }
    torch = _threads.torch_threads()
    if torch is not None:
        state["torch"] = torch
    return state


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CpuEnvError(f"cpu_env {name}=: expected a positive integer, got {value!r}")
    return value


class CpuEnv:
    """Tunes this process for a test and restores it afterwards."""

    def __init__(self) -> None:
        self._threads = _threads.capture_threads()
        self._affinity = _aff.capture_affinity()
        self._rng = _seeds.capture_rng()
        self._gc_enabled = gc.isenabled()
        self.settings: dict[str, Any] = {}
        self.applied: dict[str, Any] = {}
        self.restored = False

    # -- public API --------------------------------------------------------------------------------
    def configure(
        self,
        *,
        threads: int | None = None,
        interop_threads: int | None = None,
        affinity: Any = None,
        gc: str | None = None,
        seed: int | None = None,
        torch: bool | None = None,
    ) -> CpuEnv:
        """Apply settings now (each one is restored when the test ends). Returns self."""
        use_torch = bool(torch)
        if threads is not None:
            threads = _positive_int("threads", threads)
        if interop_threads is not None:
            interop_threads = _positive_int("interop_threads", interop_threads)
        cpus: tuple[int, ...] | None = None
        if affinity is not None:
            cpus = self._check_affinity(affinity)
        if gc is not None and gc not in GC_POLICIES:
            raise CpuEnvError(f"cpu_env gc=: expected one of {', '.join(GC_POLICIES)}, got {gc!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise CpuEnvError(f"cpu_env seed=: expected an integer >= 0, got {seed!r}")
        if cpus is not None:
            if _aff.affinity_supported():
                _aff.set_affinity(cpus)
                self.applied["affinity"] = _aff.format_cpu_list(cpus)
            else:
                self.applied["affinity"] = "unsupported on this platform"
            self.settings["affinity"] = _aff.format_cpu_list(cpus)
        if threads is not None or interop_threads is not None or use_torch:
            self.applied.update(_threads.apply_threads(threads, interop_threads, use_torch))
            if threads is not None:
                self.settings["threads"] = threads
            if interop_threads is not None:
                self.settings["interop_threads"] = interop_threads
        if gc is not None:
            self.settings["gc"] = gc
        if seed is not None:
            self.applied["seeded"] = _seeds.seed_all(seed, use_torch)
            self.settings["seed"] = seed
        return self

    def configure_from(self, values: Mapping[str, Any]) -> CpuEnv:
        """Apply marker values (only the keys cpu_env knows)."""
        known = {k: values[k] for k in (*CPU_MARKER_KEYS, "gc") if k in values}
        return self.configure(**known) if known else self

    @property
    def gc_policy(self) -> str | None:
        """The garbage-collector policy for timed sections asked through cpu_env, or None."""
        value = self.settings.get("gc")
        return str(value) if value is not None else None

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Apply the gc policy for a timed section (the measurement probe uses this)."""
        with gc_policy(self.gc_policy or "enabled"):
            yield

    def describe(self) -> dict[str, Any]:
        """Requested settings and the state actually in force, for ``measurement.extra['cpu_env']``."""
        return {"configured": True, "settings": dict(self.settings), "applied": dict(self.applied)} | {
            "state": current_cpu_state()
        }

    def restore(self) -> None:
        """Put threads, affinity, generators and gc back as they were when the fixture started."""
        _threads.restore_threads(self._threads)
        _aff.restore_affinity(self._affinity)
        _seeds.restore_rng(self._rng)
        if gc.isenabled() != self._gc_enabled:
            (gc.enable if self._gc_enabled else gc.disable)()
        self.restored = True

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _check_affinity(spec: Any) -> tuple[int, ...]:
        try:
            cpus = _aff.parse_cpu_list(spec)
        except ValueError as exc:
            raise CpuEnvError(f"cpu_env affinity=: {exc}") from None
        allowed = _aff.available_cpus()
        outside = sorted(set(cpus) - set(allowed))
        if outside:
            raise CpuEnvError(
                f"cpu_env affinity=: CPU(s) {_aff.format_cpu_list(outside)} not available to this process; "
                f"allowed: {_aff.format_cpu_list(allowed)}"
            )
        return cpus


#: The test's CpuEnv while the ``cpu_env`` fixture is active (the environment plugin records it).
CPU_ENV_KEY: pytest.StashKey[CpuEnv] = pytest.StashKey()
