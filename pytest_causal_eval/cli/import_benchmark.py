"""``causal-eval import-pytest-benchmark FILE...``: turn saved pytest-benchmark runs into baselines.

Reads the JSON pytest-benchmark writes with ``--benchmark-autosave`` / ``--benchmark-save``
(``.benchmarks/<machine>/NNNN_*.json``; a directory is searched for them). Raw samples are kept
when the run was saved with ``--benchmark-save-data``; otherwise the baseline keeps the summary
(median, IQR, rounds) and the gate uses it. The runs must come from this machine (the fields
pytest-benchmark recorded are checked); ``--machine KEY`` files them under another key instead.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError

__all__ = ["convert_benchmark", "register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-pytest-benchmark",
        help="turn saved pytest-benchmark runs (.benchmarks/**/*.json) into baselines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="JSON files or directories")
    parser.add_argument(
        "--dir", type=Path, default=Path("baselines"), help="baseline directory (default baselines)"
    )
    parser.add_argument("--machine", metavar="KEY", help="file the runs under this machine key")
    parser.set_defaults(func=run)


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.rglob("*.json"))
            if not found:
                raise CLIError(f"{path}: no pytest-benchmark JSON files under this directory")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise CLIError(f"{path}: no such file or directory")
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path} is not valid JSON ({exc}); is it a pytest-benchmark file?") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise CLIError(f"{path}: not a pytest-benchmark file (no 'benchmarks' list)")
    return data


def _environment_of(machine_info: Mapping[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` in our environment-block shape (only what it knows)."""
    cpu_info = machine_info.get("cpu") or {}
    cpu: dict[str, Any] = {}
    if cpu_info.get("brand_raw"):
        cpu["model"] = cpu_info["brand_raw"]
    if cpu_info.get("count"):
        cpu["logical_cores"] = cpu_info["count"]
    return {
        "python": {
            "implementation": machine_info.get("python_implementation", ""),
            "version": machine_info.get("python_version", ""),
        },
        "platform": {"system": machine_info.get("system", ""), "machine": machine_info.get("machine", "")},
        "cpu": cpu,
    }


def convert_benchmark(bench: Mapping[str, Any], saved: str, source: str) -> tuple[str, dict[str, Any]]:
    """One pytest-benchmark entry as ``(measurement id, baseline entry)``."""
    from pytest_causal_eval.baseline.schema import even_subsample
    from pytest_causal_eval.stats.summary import summarize

    mid = bench.get("fullname")
    stats = bench.get("stats")
    if not isinstance(mid, str) or not isinstance(stats, Mapping) or "median" not in stats:
        raise CLIError(f"{source}: a benchmark lacks 'fullname' or 'stats.median'")
    data = [float(v) for v in stats.get("data") or []]
    if data:
        summary: dict[str, Any] = summarize(data).to_dict()
    else:
        summary = {k: float(v) for k, v in stats.items() if isinstance(v, (int, float)) and k != "data"}
    params = bench.get("params") or {}
    time_block = {
        "unit": "s",
        "iterations": int(stats.get("iterations", 1)),
        "rounds": int(stats.get("rounds", len(data))),
        "summary": summary,
        "samples": even_subsample(data),
    }
    return mid, {
        "id": mid,
        "test_id": mid,
        "name": "",
        "params": {str(k): str(v) for k, v in params.items()} if isinstance(params, Mapping) else {},
        "first_seen": saved,
        "last_seen": saved,
        "tool_version": f"pytest-benchmark import ({source})",
        "time": time_block,
        "metrics": {},
        "noise": {},
    }


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.machine import (
        describe_differences,
        fingerprint_from_environment,
        hard_differences,
        live_environment,
    )
    from pytest_causal_eval.baseline.store import BaselineStore

    here = fingerprint_from_environment(live_environment())
    docs = sorted(
        ((p, _read(p)) for p in _expand(list(args.files))), key=lambda pd: str(pd[1].get("datetime", ""))
    )
    entries: dict[str, dict[str, Any]] = {}
    theirs = here
    for path, doc in docs:
        theirs = fingerprint_from_environment(_environment_of(doc.get("machine_info") or {}))
        diffs = hard_differences(here, theirs)
        if diffs and not args.machine:
            raise CLIError(
                f"{path} was recorded on another machine ({describe_differences(diffs)}); "
                "pass --machine KEY to file it under a key of your choice"
            )
        for bench in doc["benchmarks"]:
            mid, entry = convert_benchmark(bench, str(doc.get("datetime") or ""), path.name)
            entries[mid] = entry  # a later run replaces an earlier one
    if not entries:
        raise CLIError("the given files contain no benchmarks")
    fingerprint = theirs if args.machine else here
    key = args.machine or here.key
    store = BaselineStore(args.dir)
    path, moved = store.save_entries(key, {**fingerprint.to_dict(), "key": key}, entries)
    without = sum(1 for e in entries.values() if not e["time"]["samples"])
    print(f"imported {len(entries)} benchmark(s) from {len(docs)} file(s) into {path}")
    if without:
        print(
            f"note: {without} benchmark(s) had no raw samples (saved without --benchmark-save-data); "
            "their summaries are used"
        )
    if moved is not None:
        print(f"note: the unreadable baseline file was kept as {moved}")
    return 0
