"""Reads the machine's state for the health check: /proc, /sys and psutil. No judging here."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from pytest_causal_eval.environment.health import BusyProcess, HealthSample, assess

__all__ = [
    "check_health",
    "kernel_cmdline",
    "load_average",
    "own_process_ids",
    "read_cpu_tuning",
    "sample_health",
]

_CPU_SYS = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def load_average() -> tuple[float, float, float] | None:
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return None
    return (float(one), float(five), float(fifteen))


def kernel_cmdline() -> str | None:
    return _read(Path("/proc/cmdline"))


def read_cpu_tuning(root: Path = _CPU_SYS) -> dict[str, Any]:
    """Governor, turbo, frequencies, isolated and nohz_full CPUs where /sys tells (None elsewhere)."""
    governor = _read(root / "cpu0" / "cpufreq" / "scaling_governor")
    turbo: bool | None = None
    no_turbo = _read(root / "intel_pstate" / "no_turbo")
    boost = _read(root / "cpufreq" / "boost")
    if no_turbo in ("0", "1"):
        turbo = no_turbo == "0"
    elif boost in ("0", "1"):
        turbo = boost == "1"
    frequency: dict[str, float] | None = None
    names = (("current", "scaling_cur_freq"), ("min", "scaling_min_freq"), ("max", "scaling_max_freq"))
    values = {key: _read(root / "cpu0" / "cpufreq" / name) for key, name in names}
    if any(v and v.isdigit() for v in values.values()):
        frequency = {k: int(v) / 1000.0 for k, v in values.items() if v and v.isdigit()}
    return {
        "governor": governor,
        "turbo": turbo,
        "frequency_mhz": frequency,
        "isolated_cpus": _read(root / "isolated") or None,
        "nohz_full": _read(root / "nohz_full") or None,
    }


def own_process_ids(psutil: Any) -> set[int]:
    """This process, its ancestors, and everything below its parent (xdist workers and siblings)."""
    me = psutil.Process()
    pids = {me.pid}
    try:
        parents = me.parents()
    except Exception:
        parents = []
    pids.update(p.pid for p in parents)
    if parents:
        with contextlib.suppress(Exception):
            pids.update(c.pid for c in parents[0].children(recursive=True))
    return pids


def _busy_processes(psutil: Any, interval: float) -> list[BusyProcess]:
    own = own_process_ids(psutil)
    procs = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid in own or proc.pid == 0:
            continue
        try:
            proc.cpu_percent(None)  # prime
            procs.append(proc)
        except Exception:
            continue
    time.sleep(interval)
    busy = []
    for proc in procs:
        try:
            percent = float(proc.cpu_percent(None))
        except Exception:
            continue
        if percent >= 1.0:
            name = str(proc.info.get("name") or "?")
            busy.append(BusyProcess(pid=proc.pid, name=name, cpu_percent=percent))
    return sorted(busy, key=lambda p: -p.cpu_percent)[:10]


def sample_health(interval: float = 0.2, own_processes: int = 1) -> HealthSample:
    """Sample the machine for ``interval`` seconds (busy processes, swapping) plus the instant facts."""
    import psutil

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    swap_before = psutil.swap_memory()
    started = time.perf_counter()
    busy = _busy_processes(psutil, interval)
    elapsed = time.perf_counter() - started
    swap = psutil.swap_memory()
    memory = psutil.virtual_memory()
    tuning = read_cpu_tuning()
    return HealthSample(
        cpus=cpus,
        load_avg=load_average(),
        busy_processes=busy,
        memory_total=int(memory.total),
        memory_available=int(memory.available),
        swap_total=int(swap.total),
        swap_used=int(swap.used),
        swap_activity=int((swap.sin - swap_before.sin) + (swap.sout - swap_before.sout)),
        governor=tuning["governor"],
        turbo=tuning["turbo"],
        frequency_mhz=tuning["frequency_mhz"],
        isolated_cpus=tuning["isolated_cpus"],
        nohz_full=tuning["nohz_full"],
        own_processes=own_processes,
        sample_seconds=round(elapsed, 3),
    )


def check_health(interval: float = 0.2, own_processes: int = 1) -> dict[str, Any]:
    """Sample the machine for ``interval`` seconds and judge it (``health.assess``): a run's health."""
    return assess(sample_health(interval, own_processes=own_processes))
