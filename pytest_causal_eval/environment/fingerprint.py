"""Environment block recorded with every run: interpreter, platform, CPU, package versions, git."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "THREAD_VARIABLES",
    "collect_environment",
    "cpu_model",
    "git_info",
    "git_output",
    "package_versions",
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
        "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "git": git_info(rootdir),
    }
