"""The machine's identity, in one place: the environment block recorded with every run
(interpreter, platform, CPU, package versions, git) and the machine fingerprint and key computed
from it.

Machine keys: which baselines a run may be compared with.

A fingerprint has *hard* keys (a difference makes timings incomparable: CPU model, logical cores,
architecture, OS, Python implementation and minor version, torch version, CUDA/cuDNN and GPU name
when a GPU is used, thread settings) and *soft* keys (a difference only deserves a warning: CPU
frequency, load, memory). The key is a readable slug plus a short hash of the hard keys, e.g.
``linux-x86_64-py3.11-8c-3f2a9c1b``.

``Fingerprint.key`` is the one place a key is computed. The plugin fingerprints the live process
(``live_environment``) and records the fingerprint and key in the results (``extra["machine"]``);
everything that reads a results file (merge, compare, report, history, prune) asks
``results_machine`` for its key, which takes the recorded one and computes it from the environment
block only for a file that lacks it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_causal_eval.results import RunResults

from pytest_causal_eval.measure.valgrind_env import ENV_PINNED_BY_PLUGIN

__all__ = [
    "THREAD_VARIABLES",
    "Fingerprint",
    "collect_environment",
    "cpu_model",
    "describe_differences",
    "fingerprint_from_environment",
    "git_info",
    "git_output",
    "hard_differences",
    "live_environment",
    "package_versions",
    "results_machine",
    "soft_differences",
    "thread_settings",
]

TRACKED_PACKAGES = ("pytest", "numpy", "torch", "pytest-causal-eval", "pytest-xdist")
# Thread settings inherited by child processes and BLAS: a hard key of the machine fingerprint.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def thread_settings() -> dict[str, str | None]:
    """The user's thread variables (those instruction mode's launcher pinned itself read as unset)."""
    pinned = set(filter(None, os.environ.get(ENV_PINNED_BY_PLUGIN, "").split(",")))
    return {name: None if name in pinned else os.environ.get(name) for name in THREAD_VARIABLES}


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo on Linux, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions from package metadata: nothing is imported (torch stays unloaded)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_output(*args: str, cwd: Path | None = None, timeout: float = 10) -> str | None:
    """What ``git ARGS`` printed in ``cwd``, stripped; None when git is missing, fails or hangs."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_info(cwd: Path | None = None) -> dict[str, Any]:
    """Commit, branch and dirtiness of the repository around ``cwd``; empty when not in one."""

    def run(*args: str) -> str | None:
        return git_output(*args, cwd=cwd)

    commit = run("rev-parse", "HEAD")
    if not commit:
        return {}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
    }


def collect_environment(rootdir: Path | None = None) -> dict[str, Any]:
    """The environment block of a results file."""
    uname = platform.uname()
    return {
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "executable_bits": "64" if sys.maxsize > 2**32 else "32",
        },
        "platform": {
            "system": uname.system,
            "release": uname.release,
            "machine": uname.machine,
            "platform": platform.platform(),
        },
        "cpu": {
            "model": cpu_model(),
            "logical_cores": os.cpu_count() or 0,
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "packages": package_versions(),
        "threads": thread_settings(),
        "git": git_info(rootdir),
    }


# -- the fingerprint and the machine key ------------------------------------------------------------
HARD_KEYS = (
    "cpu_model",
    "logical_cores",
    "arch",
    "os",
    "python",
    "torch",
    "cuda",
    "cudnn",
    "gpu",
    "threads",
)


@dataclass(frozen=True)
class Fingerprint:
    hard: dict[str, Any]
    soft: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(json.dumps(self.hard, sort_keys=True, default=str).encode()).hexdigest()[:8]
        parts = [
            str(self.hard.get("os") or "unknown"),
            str(self.hard.get("arch") or "unknown"),
            f"{'py' if self.hard.get('python', '').startswith('CPython') else 'pypy'}"
            + str(self.hard.get("python", "")).rpartition("-")[2],
            f"{self.hard.get('logical_cores', 0)}c",
        ]
        if self.hard.get("gpu"):
            parts.append(_slug(str(self.hard["gpu"]))[:24])
        return _slug("-".join(parts)) + "-" + digest

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "hard": dict(self.hard), "soft": dict(self.soft)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        return cls(hard=_object(data.get("hard")), soft=_object(data.get("soft")))


def _object(value: Any) -> dict[str, Any]:
    """A part of a block read from a file: a dict, or empty when the file holds something else there."""
    return dict(value) if isinstance(value, Mapping) else {}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-")


def fingerprint_from_environment(env: Mapping[str, Any]) -> Fingerprint:
    """Fingerprint from an environment block (as in a results file or ``live_environment()``); a part
    that is not an object (a hand-edited file) counts as unknown."""
    py = _object(env.get("python"))
    plat = _object(env.get("platform"))
    cpu = _object(env.get("cpu"))
    packages = _object(env.get("packages"))
    gpu = _object(env.get("gpu"))
    version = str(py.get("version", ""))
    minor = ".".join(version.split(".")[:2])
    hard: dict[str, Any] = {
        "cpu_model": cpu.get("model"),
        "logical_cores": cpu.get("logical_cores"),
        "arch": plat.get("machine"),
        "os": str(plat.get("system", "")).lower() or None,
        "python": f"{py.get('implementation', '')}-{minor}" if version else None,
        "torch": packages.get("torch"),
    }
    if isinstance(gpu, Mapping) and (gpu.get("name") or gpu.get("devices")):
        name = gpu.get("name")
        if not name and isinstance(gpu.get("devices"), list) and gpu["devices"]:
            first = gpu["devices"][0]
            name = first.get("name") if isinstance(first, Mapping) else str(first)
        hard["gpu"] = name
        hard["cuda"] = gpu.get("cuda") or gpu.get("cuda_version")
        hard["cudnn"] = gpu.get("cudnn") or gpu.get("cudnn_version")
    threads = env.get("threads")
    if isinstance(threads, Mapping):
        hard["threads"] = {str(k): threads[k] for k in sorted(threads) if threads[k] is not None}
    soft: dict[str, Any] = {}
    for name in ("frequency_mhz", "memory_bytes"):
        if cpu.get(name) is not None:
            soft[name] = cpu.get(name)
    health = env.get("health")
    if isinstance(health, Mapping) and health.get("load_avg_1m") is not None:
        soft["load_avg_1m"] = health.get("load_avg_1m")
    return Fingerprint(hard={k: v for k, v in hard.items() if v is not None}, soft=soft)


def results_machine(results: RunResults) -> tuple[str, Fingerprint]:
    """The machine key and fingerprint a results file was measured on: the ones the plugin recorded
    (``extra["machine"]``: the key may have been chosen with ``--causal-eval-machine``), else computed
    from its environment block."""
    recorded = results.extra.get("machine")
    if isinstance(recorded, Mapping) and isinstance(recorded.get("hard"), Mapping):
        fingerprint = Fingerprint.from_dict(recorded)
        key = recorded.get("key")
        return (key if isinstance(key, str) and key else fingerprint.key), fingerprint
    fingerprint = fingerprint_from_environment(results.environment)
    return fingerprint.key, fingerprint


def hard_differences(a: Fingerprint, b: Fingerprint) -> dict[str, tuple[Any, Any]]:
    """Hard keys both sides know and that differ: ``{key: (a, b)}``."""
    return {
        k: (a.hard[k], b.hard[k]) for k in HARD_KEYS if k in a.hard and k in b.hard and a.hard[k] != b.hard[k]
    }


def soft_differences(a: Fingerprint, b: Fingerprint, tolerance: float = 0.1) -> dict[str, tuple[Any, Any]]:
    """Soft keys that differ by more than ``tolerance`` (relative); load is compared above 1.0 only."""
    out: dict[str, tuple[Any, Any]] = {}
    for k in sorted(set(a.soft) & set(b.soft)):
        x, y = a.soft[k], b.soft[k]
        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            if x != y:
                out[k] = (x, y)
            continue
        if k == "load_avg_1m":
            if abs(float(x) - float(y)) > 1.0:
                out[k] = (x, y)
        elif max(abs(x), abs(y)) > 0 and abs(x - y) / max(abs(x), abs(y)) > tolerance:
            out[k] = (x, y)
    return out


def describe_differences(diffs: Mapping[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{k}: {a!r} vs {b!r}" for k, (a, b) in diffs.items())


def live_environment(recorded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The fields a fingerprint needs, read from this process (torch is never imported).

    ``recorded`` is the session's environment block when one exists (its ``gpu`` and ``threads``
    entries are used when present).
    """
    try:
        torch_version: str | None = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    cpu: dict[str, Any] = {"model": cpu_model(), "logical_cores": os.cpu_count() or 0}
    try:
        import psutil

        freq = psutil.cpu_freq()
        if freq is not None and freq.max:
            cpu["frequency_mhz"] = round(float(freq.max))
        cpu["memory_bytes"] = int(psutil.virtual_memory().total)
    except Exception:  # psutil may be unable to read these on some systems
        pass
    threads: dict[str, Any] = dict(thread_settings())
    env: dict[str, Any] = {
        "python": {"implementation": platform.python_implementation(), "version": platform.python_version()},
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "cpu": cpu,
        "packages": {"torch": torch_version},
        "threads": threads,
    }
    if recorded:
        if isinstance(recorded.get("gpu"), Mapping):
            env["gpu"] = dict(recorded["gpu"])
        if isinstance(recorded.get("threads"), Mapping):
            env["threads"] = {**threads, **recorded["threads"]}
        if isinstance(recorded.get("health"), Mapping):
            env["health"] = dict(recorded["health"])
    return env
