"""OS tuning a user could do for steadier timings, from the health block (pure; runs nothing).

Every suggestion is text: what to change, why, and a command the user may run themselves (most
need root). causal-eval never applies any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Suggestion", "suggest_tuning"]


@dataclass(frozen=True)
class Suggestion:
    topic: str
    why: str
    command: str


def _last_cpus(cpus: int) -> str:
    if cpus <= 1:
        return "0"
    half = max(1, cpus // 2)
    return f"{cpus - half}-{cpus - 1}" if half > 1 else str(cpus - 1)


def suggest_tuning(health: Mapping[str, Any], cmdline: str | None = None) -> list[Suggestion]:
    """Suggestions for this machine, most effective first."""
    out: list[Suggestion] = []
    cpus = int(health.get("cpus") or 1)
    bench_cpus = _last_cpus(cpus)
    for proc in health.get("busy_processes") or []:
        out.append(
            Suggestion(
                "busy process",
                f"{proc['name']} (pid {proc['pid']}) used {proc['cpu_percent']:.0f}% of a core "
                "while sampling",
                f"stop it while benchmarking, or keep it off the benchmark CPUs: taskset -pc 0 {proc['pid']}",
            )
        )
    governor = health.get("governor")
    if governor is None:
        out.append(
            Suggestion(
                "CPU governor",
                "/sys does not expose cpufreq (a virtual machine or container?): "
                "the clock speed cannot be pinned here",
                "run benchmarks on a bare-metal or dedicated runner where possible",
            )
        )
    elif governor != "performance":
        out.append(
            Suggestion(
                "CPU governor",
                f"governor is {governor!r}: the clock speed follows the load and shifts timings",
                "sudo cpupower frequency-set --governor performance",
            )
        )
    if health.get("turbo") is True:
        out.append(
            Suggestion(
                "turbo boost",
                "turbo is on: the clock depends on temperature and on the other cores' load",
                "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo "
                "(AMD/acpi-cpufreq: echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost)",
            )
        )
    boot = cmdline or ""
    if not health.get("isolated_cpus") and "isolcpus=" not in boot:
        out.append(
            Suggestion(
                "isolated CPUs",
                "no CPU is isolated: the scheduler puts other tasks on the benchmark cores",
                f"add 'isolcpus={bench_cpus} nohz_full={bench_cpus} rcu_nocbs={bench_cpus}' to the kernel "
                "command line (GRUB_CMDLINE_LINUX), update-grub, reboot",
            )
        )
    elif not health.get("nohz_full") and "nohz_full=" not in boot:
        out.append(
            Suggestion(
                "nohz_full",
                "isolated CPUs still take the periodic timer tick",
                f"add 'nohz_full={health.get('isolated_cpus') or bench_cpus}' to the kernel command line",
            )
        )
    out.append(
        Suggestion(
            "pinning",
            "a process that migrates between cores loses its caches",
            f"taskset -c {bench_cpus} pytest --causal-eval ... "
            "(or --causal-eval-xdist=pin under pytest -n N, or cpu_env with affinity=...)",
        )
    )
    swap_used = health.get("swap_used") or 0
    if swap_used and (health.get("swap_activity") or 0) > 0:
        out.append(
            Suggestion(
                "swap", "the machine swapped while sampling", "free memory, or sudo swapoff -a while timing"
            )
        )
    return out
