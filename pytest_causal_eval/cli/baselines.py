"""``causal-eval baselines show|prune``: inspect and tidy the baseline directory.

``prune --not-in RESULTS`` removes the entries a results file does not hold, from the baseline of the
machine key the results were measured on only (``environment.fingerprint.results_machine``), and refuses
(unless ``--force``) when the results hold none of that file's measurements (an empty run, another
suite) or only some shards of a sharded run: their absence says nothing about staleness.
``--dry-run`` lists what would be removed. Exit status 2 for a usage error or a file that cannot be
read or written; nothing is removed then.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_causal_eval.cli import CLIError
from pytest_causal_eval.cli._args import deprecated_alias

__all__ = ["baselines_option", "register"]


def baselines_option(parser: argparse.ArgumentParser) -> None:
    """``--baselines DIR`` (default baselines), with the old ``--dir`` as a deprecated alias."""
    option = parser.add_argument(
        "--baselines",
        type=Path,
        default=Path("baselines"),
        metavar="DIR",
        help="baseline directory (default baselines)",
    )
    deprecated_alias(parser, "--dir", option)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "baselines",
        help="show or prune stored baselines",
        description="Inspect the baseline directory (one file per machine key) or remove stale and "
        "invalid measurements from it.",
    )
    sub = parser.add_subparsers(dest="baselines_command", metavar="ACTION")
    sub.required = True

    show = sub.add_parser(
        "show",
        help="list baseline files, or one machine's measurements",
        description="List the baseline files with their measurement counts, last save and machine; "
        "with a machine key, every measurement of that file (median, rounds, samples kept, last seen). "
        "Exit status 2 when a file cannot be read or holds a bad number.",
    )
    show.add_argument(
        "key",
        nargs="?",
        metavar="KEY",
        help="a machine key (as causal-eval env prints): list its measurements",
    )
    baselines_option(show)
    show.set_defaults(func=run_show)

    prune = sub.add_parser(
        "prune",
        help="remove stale measurements from baselines",
        description="Remove measurements from the baseline files: those not seen for --older-than "
        "DAYS, those absent from the --not-in results files (from the baseline of the machine key the "
        "results were measured on only), and those holding a bad number (--invalid). --not-in refuses "
        "(unless --force) when the results hold none of that file's measurements (an empty run, another "
        "suite) or only some shards of a sharded run: their absence says nothing about staleness. "
        "--dry-run lists what would be removed. Exit status 2 for a usage error or a file that cannot be "
        "read or written; nothing is removed then.",
    )
    baselines_option(prune)
    prune.add_argument(
        "--machine",
        metavar="KEY",
        help="only this machine key (default: every file; with --not-in, the results' machine key)",
    )
    prune.add_argument(
        "--older-than", type=float, metavar="DAYS", help="remove entries not seen for DAYS days"
    )
    prune.add_argument(
        "--not-in",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS.json",
        help="remove entries absent from these results files (--causal-eval-json), from the baseline of "
        "the machine they were measured on only; repeatable (e.g. every shard's file)",
    )
    prune.add_argument(
        "--invalid", action="store_true", help="remove entries that hold a bad number (quarantined on load)"
    )
    prune.add_argument(
        "--force",
        action="store_true",
        help="prune even when the --not-in results hold none of the file's measurements, only some "
        "shards, or another machine's key than --machine",
    )
    prune.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    prune.set_defaults(func=run_prune)


def _store(directory: Path) -> Any:
    from pytest_causal_eval.baseline.store import BaselineStore

    if not directory.is_dir():
        raise CLIError(f"--baselines: baseline directory {directory} does not exist")
    return BaselineStore(directory)


def run_show(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.store import BaselineFileError
    from pytest_causal_eval.report.units import format_seconds

    store = _store(args.baselines)
    keys = [args.key.removesuffix(".json")] if args.key else store.keys()
    if args.key and args.key.removesuffix(".json") not in set(store.keys()):
        raise CLIError(
            f"no baseline for machine key {args.key!r} in {args.baselines}; have: {', '.join(store.keys())}"
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
        bad = len(baseline.quarantined)
        print(
            f"{key}: {len(entries)} measurement(s), last saved {seen[-1] if seen else '-'}"
            + (f"; {bad} holding a bad number (not used for gating)" if bad else "")
        )
        if described:
            print(f"  machine: {described}")
        if bad:
            status = 2
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
                    + _under_load(time_block.get("sessions"))
                )
            for mid, problem in sorted(baseline.quarantined.items()):
                print(f"  {mid}: bad entry: {problem} (causal-eval baselines prune --invalid removes it)")
    return status


def _under_load(sessions: Any) -> str:
    """'; 1 of 3 saving sessions under foreign load (70%)': the saves the gate's center leaves out
    at the default limit ('' when none recorded that much)."""
    from pytest_causal_eval.baseline.schema import saved_under_load, session_share
    from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD

    listed = sessions if isinstance(sessions, list) else []
    busy = sorted(
        s for x in listed if saved_under_load(x, DEFAULT_MAX_FOREIGN_LOAD) and (s := session_share(x))
    )
    if not busy:
        return ""
    low, high = f"{busy[0]:.0%}", f"{busy[-1]:.0%}"
    seen = low if low == high else f"{low}-{high}"
    return f"; {len(busy)} of {len(listed)} saving session(s) under foreign load ({seen} of the CPUs)"


def _parse_time(text: str) -> _dt.datetime | None:
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)


@dataclass
class _Kept:
    """What the --not-in results of one machine key hold."""

    files: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    shards: set[tuple[int, int]] = field(default_factory=set)  # (index, total) of sharded files
    unsharded: bool = False


def _kept_by_key(paths: list[Path]) -> dict[str, _Kept]:
    from pytest_causal_eval.cli.compare import load_results
    from pytest_causal_eval.environment.fingerprint import results_machine
    from pytest_causal_eval.shard.merge import shard_of

    out: dict[str, _Kept] = {}
    for path in paths:
        results = load_results(path)
        key = results_machine(results)[0] if results.extra.get("machine") or results.environment else ""
        kept = out.setdefault(key, _Kept())
        kept.files.append(str(path))
        kept.ids.update(m.id for m in results.measurements)
        kept.ids.update(results.quarantined)  # present, though unusable: not stale
        shard = shard_of(results)
        if shard is not None and shard[1] > 1:
            kept.shards.add(shard)
        else:
            kept.unsharded = True
    return out


def _coverage_problem(kept: _Kept, entries: Mapping[str, Any], path: Path) -> str:
    """Why the results cannot tell which of ``entries`` are stale ('' when they can)."""
    files = ", ".join(kept.files)
    if entries and not kept.ids & set(entries):
        return (
            f"{files} hold(s) none of the {len(entries)} measurement(s) in {path} (an empty run, another "
            "suite, a -k selection?): absence from it says nothing"
        )
    if kept.shards and not kept.unsharded:
        total = max(t for _, t in kept.shards)
        missing = sorted(set(range(1, total + 1)) - {i for i, t in kept.shards if t == total})
        if missing:
            shown = ", ".join(f"{i}/{total}" for i in missing)
            return (
                f"{files} hold(s) only some shards of a sharded run (missing {shown}): the other shards' "
                "measurements would look stale; pass every shard's file (or `causal-eval merge` them)"
            )
    return ""


def run_prune(args: argparse.Namespace) -> int:
    from pytest_causal_eval.baseline.schema import entry_problem
    from pytest_causal_eval.baseline.store import BaselineFileError, TooNewError

    if args.older_than is None and not args.not_in and not args.invalid:
        raise CLIError("prune needs --older-than DAYS, --not-in RESULTS.json and/or --invalid")
    if args.older_than is not None and not 0 <= args.older_than < 1e6:
        raise CLIError(f"--older-than: expected a number of days from 0 to 999999, got {args.older_than}")
    store = _store(args.baselines)
    machine = args.machine.removesuffix(".json") if args.machine else None
    if machine is not None and machine not in set(store.keys()):
        raise CLIError(f"--machine: no baseline for {args.machine!r} in {args.baselines}")
    kept_by_key = _kept_by_key(list(args.not_in)) if args.not_in else {}
    unknown = kept_by_key.pop("", None)
    if unknown is not None and not (machine is not None and args.force):
        raise CLIError(
            f"{', '.join(unknown.files)}: the results do not say which machine they were measured on (no "
            "recorded machine key, no environment block), so they cannot tell which baseline is stale; "
            "pass --machine KEY --force to prune that key's baseline by them"
        )
    if unknown is not None and machine is not None:
        kept_by_key.setdefault(machine, _Kept()).files.extend(unknown.files)
        kept_by_key[machine].ids |= unknown.ids
        kept_by_key[machine].unsharded = True
    if args.not_in:
        keys = sorted(kept_by_key)
        if machine is not None:
            if machine not in kept_by_key and not args.force:
                raise CLIError(
                    f"--machine {machine}: the --not-in results were measured on {', '.join(keys)}; they "
                    "say nothing about another machine's baseline (--force prunes it anyway)"
                )
            if machine not in kept_by_key:
                merged = _Kept(files=[f for k in kept_by_key.values() for f in k.files], unsharded=True)
                for k in kept_by_key.values():
                    merged.ids |= k.ids
                kept_by_key = {machine: merged}
            keys = [machine]
        missing = [k for k in keys if k not in set(store.keys())]
        if missing:
            files = ", ".join(f for k in missing for f in kept_by_key[k].files)
            raise CLIError(
                f"no baseline in {args.baselines} for machine key {', '.join(missing)}, the one {files} was "
                "measured on; nothing to prune"
            )
    else:
        keys = [machine] if machine else store.keys()
    cutoff = (
        _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=args.older_than)
        if args.older_than is not None
        else None
    )

    def stale_for(key: str) -> Any:
        kept = kept_by_key.get(key)

        def stale(mid: str, entry: Mapping[str, Any]) -> bool:
            if kept is not None and mid not in kept.ids:
                return True
            if args.invalid and entry_problem(entry) is not None:
                return True
            if cutoff is not None:
                seen = _parse_time(str(entry.get("last_seen") or "")) if isinstance(entry, Mapping) else None
                return seen is None or seen < cutoff
            return False

        return stale

    plans: dict[str, list[str]] = {}
    for key in keys:
        try:
            baseline = store.load(key)
        except TooNewError as exc:
            raise CLIError(f"{exc}; nothing was changed") from None
        except BaselineFileError as exc:
            raise CLIError(f"{exc}; fix or delete it first") from None
        entries = (baseline.document.get("measurements") or {}) if baseline is not None else {}
        kept = kept_by_key.get(key)
        if kept is not None and not args.force:
            problem = _coverage_problem(kept, entries, store.path_for(key))
            if problem:
                raise CLIError(
                    f"refusing to prune with --not-in: {problem}; nothing removed (--force prunes anyway)"
                )
        plans[key] = [mid for mid, e in sorted(entries.items()) if stale_for(key)(mid, e)]
    total = 0
    for key in keys:
        if args.dry_run:
            removed = plans[key]
        else:
            try:
                removed = store.remove_entries(key, stale_for(key)) if plans[key] else []
            except TooNewError as exc:
                raise CLIError(f"{exc}; nothing was changed") from None
            except BaselineFileError as exc:
                raise CLIError(f"{exc}; fix or delete it first") from None
            except OSError as exc:
                raise CLIError(
                    f"cannot write {store.path_for(key)}: {exc.strerror or exc}; nothing was removed from it"
                ) from None
        total += len(removed)
        for mid in removed:
            print(f"{'would remove' if args.dry_run else 'removed'} {key}: {mid}")
    print(f"{total} stale measurement(s) {'found' if args.dry_run else 'removed'}")
    return 0
