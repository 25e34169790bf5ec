"""``causal-eval import-pytest-benchmark FILE...``: turn saved pytest-benchmark runs into baselines.

Reads the JSON pytest-benchmark writes with ``--benchmark-autosave`` / ``--benchmark-save``
(``.benchmarks/<machine>/NNNN_*.json``; a directory is searched for them). Raw samples are kept
when the run was saved with ``--benchmark-save-data``; otherwise the baseline keeps the summary
(median, IQR, rounds) and the gate uses it. The runs must come from this machine (the fields
pytest-benchmark recorded are checked); ``--machine KEY`` files them under another key instead.

Every benchmark is checked as a baseline entry is on load (a numeric, positive, finite median; sane
samples): a bad one is refused and named with its file and field, the others are imported. A
baseline file that holds another machine's fingerprint is not written unless ``--force``.

Exit status: 0 imported; 2 a usage error (nothing imported), or some benchmarks were refused (the
others were imported).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import description
from pytest_causal_eval.cli.baselines import baselines_option

__all__ = ["convert_benchmark", "register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-pytest-benchmark",
        help="turn saved pytest-benchmark runs (.benchmarks/**/*.json) into baselines",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="PATH", help="pytest-benchmark JSON files or directories"
    )
    baselines_option(parser)
    parser.add_argument("--machine", metavar="KEY", help="file the runs under this machine key")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write even into a baseline file recorded on another machine (it takes the runs' fingerprint)",
    )
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
    except UnicodeDecodeError as exc:
        raise CLIError(
            f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "is it a pytest-benchmark file?"
        ) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CLIError(f"{path} is not valid JSON ({exc}); is it a pytest-benchmark file?") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise CLIError(f"{path}: not a pytest-benchmark file (no 'benchmarks' list)")
    return data


def _environment_of(machine_info: Mapping[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` in our environment-block shape (only what it knows)."""
    if not isinstance(machine_info, Mapping):
        machine_info = {}
    cpu_info = machine_info.get("cpu")
    if not isinstance(cpu_info, Mapping):
        cpu_info = {}
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


class BadBenchmark(ValueError):
    """A pytest-benchmark entry that cannot become a baseline entry; the message names the field."""


def convert_benchmark(bench: Mapping[str, Any], saved: str, source: str) -> tuple[str, dict[str, Any]]:
    """One pytest-benchmark entry as ``(measurement id, baseline entry)``; ``BadBenchmark`` naming
    the field when it is not usable (checked as a stored entry is on load: ``schema.entry_problem``)."""
    from pytest_causal_eval import numbers
    from pytest_causal_eval.baseline.schema import entry_problem, even_subsample
    from pytest_causal_eval.stats.summary import summarize

    if not isinstance(bench, Mapping):
        raise BadBenchmark(f"a benchmark is {numbers.shown(bench)}: expected an object")
    mid = bench.get("fullname")
    if not isinstance(mid, str) or not mid:
        raise BadBenchmark(numbers.problem("fullname", mid, "the test's id (a string)"))
    stats = bench.get("stats")
    if not isinstance(stats, Mapping) or "median" not in stats:
        raise BadBenchmark(f"{mid}: stats.median is missing")
    data = stats.get("data") or []
    if not isinstance(data, list):
        raise BadBenchmark(f"{mid}: {numbers.problem('stats.data', data, 'a list of seconds')}")
    for i, value in enumerate(data):
        expected = numbers.check(value, "time")
        if expected is not None:
            raise BadBenchmark(f"{mid}: {numbers.problem(f'stats.data[{i}]', value, expected)}")
    counts: tuple[tuple[str, numbers.Kind], ...] = (("iterations", "positive_count"), ("rounds", "count"))
    for key, kind in counts:
        if key in stats and numbers.check(stats[key], kind) is not None:
            raise BadBenchmark(
                f"{mid}: {numbers.problem(f'stats.{key}', stats[key], numbers.EXPECTED[kind])}"
            )
    floats = [float(v) for v in data]
    if floats:
        summary: dict[str, Any] = summarize(floats).to_dict()
    else:
        summary = {k: v for k, v in stats.items() if numbers.is_number(v) and k != "data"}
        summary["median"] = stats["median"]  # checked below, whatever it is
    params = bench.get("params") or {}
    time_block = {
        "unit": "s",
        "iterations": stats.get("iterations", 1),
        "rounds": stats.get("rounds", len(floats)),
        "summary": summary,
        "samples": even_subsample(floats),
    }
    entry = {
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
    problem = entry_problem(entry)
    if problem is not None:
        raise BadBenchmark(f"{mid}: {problem.replace('time.summary.', 'stats.')}")
    return mid, entry


def run(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.feature import parse_machine_key
    from pytest_causal_eval.baseline.store import BaselineFileError, BaselineStore, MachineMismatchError
    from pytest_causal_eval.environment.fingerprint import (
        describe_differences,
        fingerprint_from_environment,
        hard_differences,
        live_environment,
    )

    chosen: str | None = None
    if args.machine is not None:
        try:
            chosen = parse_machine_key(args.machine)
        except ValueError as exc:
            raise CLIError(f"--machine: {exc}") from None
    here = fingerprint_from_environment(live_environment())
    docs = sorted(
        ((p, _read(p)) for p in _expand(list(args.files))), key=lambda pd: str(pd[1].get("datetime", ""))
    )
    entries: dict[str, dict[str, Any]] = {}
    refused: list[str] = []
    theirs = here
    for path, doc in docs:
        theirs = fingerprint_from_environment(_environment_of(doc.get("machine_info") or {}))
        diffs = hard_differences(here, theirs)
        if diffs and not chosen:
            raise CLIError(
                f"{path} was recorded on another machine ({describe_differences(diffs)}); "
                "pass --machine KEY to file it under a key of your choice"
            )
        for i, bench in enumerate(doc["benchmarks"]):
            try:
                mid, entry = convert_benchmark(bench, str(doc.get("datetime") or ""), path.name)
            except BadBenchmark as exc:
                refused.append(f"{path}: benchmarks[{i}]: {exc}; not imported")
                continue
            entries[mid] = entry  # a later run replaces an earlier one
    for line in refused:
        print(f"causal-eval: error: {line}", file=sys.stderr)
    if not entries:
        raise CLIError("the given files contain no benchmarks that can be imported")
    fingerprint = theirs if chosen else here
    key = chosen or here.key
    store = BaselineStore(args.baselines)
    try:
        outcome = store.save_entries(key, {**fingerprint.to_dict(), "key": key}, entries, force=args.force)
    except MachineMismatchError as exc:
        raise CLIError(f"{exc}; pass --force to write it anyway") from None
    except BaselineFileError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {store.path_for(key)}: {exc.strerror or exc}") from None
    without = sum(1 for e in entries.values() if not e["time"]["samples"])
    print(f"imported {len(entries)} benchmark(s) from {len(docs)} file(s) into {outcome.path}")
    if without:
        print(
            f"note: {without} benchmark(s) had no raw samples (saved without --benchmark-save-data); "
            "their summaries are used"
        )
    if outcome.moved is not None:
        print(f"note: the unreadable baseline file was kept as {outcome.moved}")
    if outcome.replaced_machine:
        print(
            f"note: --force: {outcome.path} now holds the imported runs' fingerprint (it had "
            f"{describe_differences(outcome.replaced_machine)}, stored vs imported)"
        )
    return 2 if refused else 0
