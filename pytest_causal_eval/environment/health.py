"""Is the machine quiet enough to time on? Pure assessment of a ``HealthSample`` (no I/O here).

``environment.readings`` reads /proc, /sys and psutil into a ``HealthSample``; this module decides
``noisy`` and says why, and ``quick_health`` re-judges one measurement's CPU load: by the foreign
share read during that measurement (``environment.load``) when there is one, with the same limit as
the gate's load rule (so the health line and the verdict cannot disagree), else by the 1-minute
load average (which lags by a minute and counts our own process). ``judged_by`` says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_causal_eval.extra_keys import CPU_REASONS, JUDGED_BY_FOREIGN_SHARE, JUDGED_BY_LOAD_AVERAGE
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD, foreign_share, share_phrase

__all__ = ["BusyProcess", "HealthSample", "Thresholds", "assess", "quick_health"]


@dataclass(frozen=True)
class BusyProcess:
    pid: int
    name: str
    cpu_percent: float  # of one CPU, during the sample (at most 100 x the machine's CPUs)


@dataclass
class HealthSample:
    cpus: int
    load_avg: tuple[float, float, float] | None = None
    busy_processes: list[BusyProcess] = field(default_factory=list)
    processes_sampled: bool = True  # False: the process sample was off (busy_processes is empty)
    memory_total: int | None = None
    memory_available: int | None = None
    swap_total: int | None = None
    swap_used: int | None = None
    swap_activity: int | None = None  # bytes swapped in + out during the sample
    governor: str | None = None
    turbo: bool | None = None
    frequency_mhz: dict[str, float] | None = None
    isolated_cpus: str | None = None
    nohz_full: str | None = None
    own_processes: int = 1  # processes of this run that count in the load (xdist workers)
    sample_seconds: float = 0.0


@dataclass(frozen=True)
class Thresholds:
    excess_load_per_cpu: float = 0.5  # load beyond our own processes, per CPU
    busy_cpu_percent: float = 20.0
    min_available_memory: float = 0.10  # share of total
    swap_activity_bytes: int = 1 << 20


def _excess_load(load_1m: float, own: int) -> float:
    return max(0.0, load_1m - max(1, own))


def assess(sample: HealthSample, thresholds: Thresholds = Thresholds()) -> dict[str, Any]:
    """The health block: every fact of the sample plus ``noisy`` and the ``reasons`` for it."""
    reasons: list[str] = []
    cpus = max(1, sample.cpus)
    load_1m = sample.load_avg[0] if sample.load_avg else None
    if load_1m is not None:
        excess = _excess_load(load_1m, sample.own_processes)
        if excess > thresholds.excess_load_per_cpu * cpus:
            reasons.append(f"load average {load_1m:.2f} on {cpus} CPU(s) (other work: {excess:.2f})")
    busy = [p for p in sample.busy_processes if p.cpu_percent >= thresholds.busy_cpu_percent]
    if busy:
        listed = ", ".join(f"{p.name} (pid {p.pid}, {p.cpu_percent:.0f}% of one CPU)" for p in busy[:3])
        more = f" and {len(busy) - 3} more" if len(busy) > 3 else ""
        reasons.append(f"busy processes: {listed}{more}")
    if sample.memory_total and sample.memory_available is not None:
        share = sample.memory_available / sample.memory_total
        if share < thresholds.min_available_memory:
            reasons.append(f"only {share:.0%} of memory available")
    if sample.swap_activity is not None and sample.swap_activity >= thresholds.swap_activity_bytes:
        reasons.append(f"swapping ({sample.swap_activity} B in {sample.sample_seconds:g}s)")
    out = asdict(sample)
    out["load_avg"] = list(sample.load_avg) if sample.load_avg else None
    out["busy_processes"] = [asdict(p) for p in busy]
    out.update(noisy=bool(reasons), reasons=reasons, load_avg_1m=load_1m)
    return out


def quick_health(
    session_health: dict[str, Any] | None,
    load_1m: float | None,
    cpus: int,
    own_processes: int = 1,
    thresholds: Thresholds = Thresholds(),
    load: Any = None,
    max_foreign_load: float = DEFAULT_MAX_FOREIGN_LOAD,
) -> dict[str, Any]:
    """Per-measurement health: the session's verdict with its CPU part judged again.

    ``load`` is the measurement's foreign-load reading (``extra['load']``): when it has a share, the
    CPU is judged by it alone, noisy at ``max_foreign_load`` or more (the gate's limit), and the
    start-of-run CPU reasons (load average, busy processes) give way to it, since it saw what they
    did, later. Without one, the CPU is judged by the 1-minute load average ``load_1m`` as before.
    Memory and swap reasons from the start of the run are kept either way."""
    share = foreign_share(load)
    reasons = list((session_health or {}).get("reasons") or [])
    if share is not None:
        reasons = [r for r in reasons if not r.startswith(CPU_REASONS)]
        if share >= max_foreign_load:
            reasons.append(f"{share_phrase(load)} (limit {max_foreign_load:.0%})")
        judged_by: str | None = JUDGED_BY_FOREIGN_SHARE
    else:
        reasons = [r for r in reasons if not r.startswith("load average")]
        judged_by = JUDGED_BY_LOAD_AVERAGE if load_1m is not None else None
        if load_1m is not None:
            excess = _excess_load(load_1m, own_processes)
            if excess > thresholds.excess_load_per_cpu * max(1, cpus):
                reasons.append(
                    f"load average {load_1m:.2f} on {max(1, cpus)} CPU(s) (other work: {excess:.2f})"
                )
    out: dict[str, Any] = {
        "noisy": bool(reasons),
        "load_avg_1m": load_1m,
        "busy_processes": list((session_health or {}).get("busy_processes") or []),
        "reasons": reasons,
    }
    if judged_by is not None:
        out["judged_by"] = judged_by
    if share is not None:
        out["foreign_share"] = share
    return out
