"""``causal-eval baselines show|prune``: inspect and tidy the baseline directory."""

from __future__ import annotations

import argparse
import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("baselines", help="show or prune stored baselines")
    sub = parser.add_subparsers(dest="baselines_command", metavar="ACTION")
    sub.required = True

    show = sub.add_parser("show", help="list baseline files, or one machine's measurements")
    show.add_argument("key", nargs="?", help="a machine key: list its measurements")
    show.add_argument(
        "--dir", type=Path, default=Path("baselines"), help="baseline directory (default baselines)"
    )
    show.set_defaults(func=run_show)

    prune = sub.add_parser("prune", help="remove stale measurements from baselines")
    prune.add_argument(
        "--dir", type=Path, default=Path("baselines"), help="baseline directory (default baselines)"
    )
    prune.add_argument("--machine", metavar="KEY", help="only this machine key (default: every file)")
    prune.add_argument(
        "--older-than", type=float, metavar="DAYS", help="remove entries not seen for DAYS days"
    )
    prune.add_argument(
        "--not-in",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS.json",
        help="remove entries absent from these results files (--causal-eval-json); repeatable",
    )
    prune.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    prune.set_defaults(func=run_prune)


def _store(directory: Path) -> Any:
    from pytest_causal_eval.baseline.store import BaselineStore

    if not directory.is_dir():
        raise CLIError(f"--dir: baseline directory {directory} does not exist")
    return BaselineStore(directory)


def run_show(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.store import BaselineFileError
    from pytest_causal_eval.report.units import format_seconds

    store = _store(args.dir)
    keys = [args.key.removesuffix(".json")] if args.key else store.keys()
    if args.key and args.key.removesuffix(".json") not in set(store.keys()):
        raise CLIError(
            f"no baseline for machine key {args.key!r} in {args.dir}; have: {', '.join(store.keys())}"
        )
    status = 0
    for key in keys:
        try:
            baseline = store.load(key)
        except BaselineFileError as exc:
            print(f"{key}: error: {exc.problem}")
            status = 2
            continue
        if baseline is None:
            continue
        entries = baseline.measurements
        seen = sorted(str(e.get("last_seen") or "") for e in entries.values())
        hard = baseline.machine.get("hard") or {}
        described = ", ".join(f"{k}={v}" for k, v in sorted(hard.items()) if v not in (None, {}, ""))
        print(f"{key}: {len(entries)} measurement(s), last saved {seen[-1] if seen else '-'}")
        if described:
            print(f"  machine: {described}")
        if args.key:
            for mid, entry in sorted(entries.items()):
                time_block = entry.get("time") or {}
                summary = time_block.get("summary") or {}
                median = format_seconds(float(summary["median"])) if "median" in summary else "-"
                metrics = ", ".join(sorted(entry.get("metrics") or {}))
                print(
                    f"  {mid}: median {median}, {time_block.get('rounds', 0)} rounds, "
                    f"{len(time_block.get('samples') or [])} samples kept, "
                    f"last seen {entry.get('last_seen') or '-'}"
                    + (f"; metrics: {metrics}" if metrics else "")
                )
    return status


def _parse_time(text: str) -> _dt.datetime | None:
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)


def run_prune(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.store import BaselineFileError
    from pytest_causal_eval.cli.compare import load_results

    if args.older_than is None and not args.not_in:
        raise CLIError("prune needs --older-than DAYS and/or --not-in RESULTS.json")
    if args.older_than is not None and args.older_than < 0:
        raise CLIError(f"--older-than: expected a number of days >= 0, got {args.older_than}")
    store = _store(args.dir)
    keep: set[str] | None = None
    for path in args.not_in:
        ids = {m.id for m in load_results(path).measurements}
        keep = ids if keep is None else keep | ids
    cutoff = (
        _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=args.older_than)
        if args.older_than is not None
        else None
    )

    def stale(mid: str, entry: Mapping[str, Any]) -> bool:
        if keep is not None and mid not in keep:
            return True
        if cutoff is not None:
            seen = _parse_time(str(entry.get("last_seen") or ""))
            return seen is None or seen < cutoff
        return False

    keys = [args.machine.removesuffix(".json")] if args.machine else store.keys()
    if args.machine and keys[0] not in set(store.keys()):
        raise CLIError(f"--machine: no baseline for {args.machine!r} in {args.dir}")
    total = 0
    for key in keys:
        try:
            if args.dry_run:
                baseline = store.load(key)
                entries = baseline.measurements if baseline is not None else {}
                removed = [mid for mid, e in sorted(entries.items()) if stale(mid, e)]
            else:
                removed = store.remove_entries(key, stale)
        except BaselineFileError as exc:
            raise CLIError(f"{exc}; fix or delete it first") from None
        total += len(removed)
        for mid in removed:
            print(f"{'would remove' if args.dry_run else 'removed'} {key}: {mid}")
    print(f"{total} stale measurement(s) {'found' if args.dry_run else 'removed'}")
    return 0
