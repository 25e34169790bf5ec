"""``causal-eval env``: the machine's key and fingerprint, its health, and OS tuning the user could do.

The machine key is the one ``pytest --causal-eval`` computes for this machine: the name of its
baseline file (``baselines/KEY.json``), what ``--causal-eval-machine`` and ``causal-eval baselines
show KEY`` take. It reads only; nothing it does needs root, and it changes nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pytest_causal_eval.cli import CLIError

__all__ = ["register", "render_env", "run_env"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "env",
        help="show the machine key and fingerprint, its health, and tuning hints for steadier timings",
        description="Show this machine's key (the name of its baseline file, baselines/KEY.json; what "
        "--causal-eval-machine and causal-eval baselines show take) and the fingerprint it is computed "
        "from, the environment block recorded with results, a health check (load, busy processes, "
        "memory, swap, CPU governor/turbo), and OS tuning you could apply yourself.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument(
        "--sample",
        default="500ms",
        metavar="DURATION",
        help="how long to watch other processes for CPU use (default 500ms; off to skip)",
    )
    parser.set_defaults(func=run_env)


def _fmt_bytes(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def render_env(
    environment: dict[str, Any],
    health: dict[str, Any],
    suggestions: list[Any],
    machine: dict[str, Any] | None = None,
) -> list[str]:
    """The text report (pure: from the collected dictionaries; ``machine`` is ``Fingerprint.to_dict()``)."""
    py, plat, cpu = environment.get("python", {}), environment.get("platform", {}), environment.get("cpu", {})
    lines = []
    if machine is not None:
        key = machine.get("key", "?")
        lines.append("machine")
        lines.append(f"  key       {key}  (baseline file baselines/{key}.json)")
        hard = machine.get("hard") or {}
        described = ", ".join(f"{k}={v}" for k, v in sorted(hard.items()) if v not in (None, {}, ""))
        if described:
            lines.append(f"  from      {described}")
    lines.append("environment")
    lines.append(f"  python    {py.get('implementation', '?')} {py.get('version', '?')}")
    lines.append(f"  platform  {plat.get('platform', '?')}")
    lines.append(f"  cpu       {cpu.get('model', '?')} ({cpu.get('logical_cores', '?')} logical cores)")
    packages = environment.get("packages") or {}
    shown = ", ".join(f"{k} {v}" for k, v in sorted(packages.items()) if v)
    if shown:
        lines.append(f"  packages  {shown}")
    git = environment.get("git") or {}
    if git:
        dirty = " (dirty)" if git.get("dirty") else ""
        lines.append(f"  git       {git.get('branch')} {str(git.get('commit', ''))[:12]}{dirty}")
    lines.append("health")
    load = health.get("load_avg")
    lines.append(
        "  load      "
        + (" ".join(f"{v:.2f}" for v in load) if load else "unknown")
        + f" on {health.get('cpus')} CPU(s)"
    )
    lines.append(
        f"  memory    {_fmt_bytes(health.get('memory_available'))} available of "
        f"{_fmt_bytes(health.get('memory_total'))}; swap used {_fmt_bytes(health.get('swap_used'))}"
    )
    freq = health.get("frequency_mhz")
    freq_text = ", ".join(f"{k} {v:.0f} MHz" for k, v in freq.items()) if freq else "unknown"
    turbo = {True: "on", False: "off", None: "unknown"}[health.get("turbo")]
    lines.append(f"  cpufreq   governor {health.get('governor') or 'unknown'}, turbo {turbo}, {freq_text}")
    lines.append(
        f"  isolated  {health.get('isolated_cpus') or 'none'}; nohz_full {health.get('nohz_full') or 'none'}"
    )
    busy = health.get("busy_processes") or []
    if health.get("processes_sampled") is False:
        lines.append("  busy      not sampled (--sample off)")
    elif busy:
        lines.append(
            "  busy      "
            + ", ".join(f"{p['name']} (pid {p['pid']}, {p['cpu_percent']:.0f}% of one CPU)" for p in busy)
        )
    verdict = "NOISY: " + "; ".join(health.get("reasons") or []) if health.get("noisy") else "quiet"
    lines.append(f"  verdict   {verdict}")
    if suggestions:
        lines.append("tuning you could do (causal-eval changes nothing; most need root)")
        for s in suggestions:
            lines.append(f"  - {s.topic}: {s.why}")
            lines.append(f"      {s.command}")
    return lines


def run_env(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from pytest_causal_eval.environment.fingerprint import (
        collect_environment,
        fingerprint_from_environment,
        live_environment,
    )
    from pytest_causal_eval.environment.readings import check_health, kernel_cmdline
    from pytest_causal_eval.environment.settings import parse_health_sample
    from pytest_causal_eval.environment.tuning import suggest_tuning

    try:
        interval = parse_health_sample(args.sample)
    except ValueError as exc:
        raise CLIError(f"--sample: {exc}") from None
    environment = collect_environment(Path.cwd())
    # the key the plugin computes for this machine (baseline.plugin: the session's environment)
    machine = fingerprint_from_environment(live_environment(environment)).to_dict()
    health = check_health(interval)
    suggestions = suggest_tuning(health, kernel_cmdline())
    if args.json:
        doc = {
            "machine": machine,
            "environment": environment,
            "health": health,
            "suggestions": [asdict(s) for s in suggestions],
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    for line in render_env(environment, health, suggestions, machine):
        print(line)
    return 0
