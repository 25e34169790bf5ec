"""Reads the machine's state for the health check: /proc, /sys and psutil. No judging here."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_causal_eval.environment.health import BusyProcess, HealthSample, assess

__all__ = [
    "busy_processes",
    "check_health",
    "cpu_tick_seconds",
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


def own_process_ids(psutil: Any, root_pid: int | None = None) -> set[int]:
    """This session's processes: its root (this process, or ``root_pid``, the xdist controller that
    started this worker) and every process below the root (xdist workers, what the workloads
    started). Not the root's parent nor the parent's other children: a process started from the same
    shell before pytest is someone else's work competing for the CPUs."""
    me = psutil.Process()
    pids = {me.pid}
    root = me
    if root_pid is not None and root_pid != me.pid:
        try:
            root = psutil.Process(root_pid)
            pids.add(root_pid)
        except Exception:  # the controller is gone or not ours to read: this process is the root
            root = me
    with contextlib.suppress(Exception):
        pids.update(c.pid for c in root.children(recursive=True))
    return pids


def cpu_tick_seconds() -> float:
    """How coarsely the OS counts a process's CPU time (Linux: one clock tick, usually 10 ms)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 1 / 64  # Windows' default timer interrupt; macOS counts finer
    return 1.0 / ticks if ticks > 0 else 0.01


def _cpu_seconds(proc: Any) -> float:
    times = proc.cpu_times()
    return float(times.user) + float(times.system)


def busy_processes(
    psutil: Any,
    interval: float,
    machine_cpus: int,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    tick: float | None = None,
) -> list[BusyProcess]:
    """Other processes' CPU use over ``interval`` seconds, as a percentage of one CPU.

    Each process's CPU time is read before and after, with the wall time between its two readings.
    The OS counts CPU time in ticks, so a reading can be one tick high: the share judged and shown is
    the least the process can have used, (cpu time - one tick) / elapsed, and never more than the
    machine's CPUs allow. A short sample can miss a busy process; it cannot invent one. No sampling
    (and no sleeping) when ``interval`` is 0.
    """
    if interval <= 0:
        return []
    clock = clock or time.perf_counter
    sleep = sleep or time.sleep
    resolution = cpu_tick_seconds() if tick is None else tick
    ceiling = 100.0 * max(1, machine_cpus)
    own = own_process_ids(psutil)
    first: list[tuple[Any, float, float]] = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid in own or proc.pid == 0:
            continue
        try:
            first.append((proc, _cpu_seconds(proc), clock()))
        except Exception:  # gone, or not ours to read
            continue
    sleep(interval)
    busy = []
    for proc, before, started in first:
        try:
            used = _cpu_seconds(proc) - before
        except Exception:
            continue
        elapsed = clock() - started
        if elapsed <= 0:
            continue
        percent = min(ceiling, 100.0 * max(0.0, used - resolution) / elapsed)
        if percent >= 1.0:
            name = str((getattr(proc, "info", None) or {}).get("name") or "?")
            busy.append(BusyProcess(pid=proc.pid, name=name, cpu_percent=round(percent, 1)))
    return sorted(busy, key=lambda p: -p.cpu_percent)[:10]


def sample_health(interval: float = 0.2, own_processes: int = 1, psutil: Any = None) -> HealthSample:
    """The instant facts (load, memory, swap, CPU tuning) plus, for ``interval`` > 0 seconds, other
    processes' CPU use and swapping during the interval; 0 reads the facts only."""
    if psutil is None:
        import psutil

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    machine_cpus = int(psutil.cpu_count() or os.cpu_count() or cpus)
    swap_before = psutil.swap_memory()
    started = time.perf_counter()
    busy = busy_processes(psutil, interval, machine_cpus)
    elapsed = time.perf_counter() - started if interval > 0 else 0.0
    swap = psutil.swap_memory()
    memory = psutil.virtual_memory()
    tuning = read_cpu_tuning()
    return HealthSample(
        cpus=cpus,
        load_avg=load_average(),
        busy_processes=busy,
        processes_sampled=interval > 0,
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
    """Sample the machine for ``interval`` seconds (0: the instant facts only) and judge it
    (``health.assess``): a run's health."""
    return assess(sample_health(interval, own_processes=own_processes))
