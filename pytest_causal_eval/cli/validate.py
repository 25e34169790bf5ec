"""``causal-eval validate cladder``: check the engine against CLadder's own ground truth."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from . import CLIError

if TYPE_CHECKING:
    from ..engine.causal.validation import Mismatch, ValidationReport

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check the engine's answers and numbers against a dataset's ground truth",
        description=(
            "Recompute every question's answer and ground-truth value from the dataset's causal "
            "models and compare. Exit 0 when all match, 1 on any mismatch, 2 on bad input."
        ),
    )
    kinds = p.add_subparsers(dest="dataset_kind", metavar="KIND")
    kinds.required = True
    cl = kinds.add_parser(
        "cladder",
        help="CLadder question files (test-generate-*.json) with their model metadata",
        description=(
            "For each question: rebuild its model from the metadata's structure and params, "
            "compute the yes/no answer and the value meta.groundtruth states without reading "
            "either, and compare (numbers within --tolerance)."
        ),
    )
    cl.add_argument("paths", nargs="+", metavar="PATH", help="CLadder question file(s)")
    cl.add_argument(
        "--meta", metavar="PATH", help="model metadata (default: test-model-meta.json beside each PATH)"
    )
    cl.add_argument(
        "--tolerance",
        type=float,
        default=1e-6,
        metavar="NUMBER",
        help="largest accepted numeric error (default 1e-6)",
    )
    cl.add_argument("--json", action="store_true", help="print the reports as JSON")
    cl.set_defaults(func=_validate_cladder)


def _validate_cladder(args: argparse.Namespace) -> int:
    from ..engine import EngineError
    from ..engine.causal.validation import validate_cladder

    if not args.tolerance >= 0.0:
        raise CLIError(f"--tolerance must be non-negative, got {args.tolerance}")
    reports: list[ValidationReport] = []
    try:
        for path in args.paths:
            reports.append(validate_cladder(path, args.meta, tolerance=args.tolerance))
    except EngineError as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print("\n\n".join(_render(r) for r in reports))
        if len(reports) > 1:
            print()
            print(_table(reports))
    return 0 if all(r.ok for r in reports) else 1


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value)


def _mismatch_line(m: Mismatch) -> str:
    error = m.error
    tail = f"   error {error:.3g}" if error is not None else ""
    return (
        f"  question {m.question_id}   {m.query_type}   {m.what}: expected {_fmt(m.expected)}"
        f"   computed {_fmt(m.computed)}{tail}"
    )


def _render(r: ValidationReport) -> str:
    lines = [
        f"{r.path} (models: {r.meta_path})",
        f"matched    {r.matched}/{r.total} questions (answer and ground-truth value)",
    ]
    if r.numeric_checked:
        where = f" (question {r.max_error_at[0]}, {r.max_error_at[1]})" if r.max_error_at else ""
        lines.append(
            f"numeric    {r.numeric_checked} values checked, largest error {r.max_error:.3g}{where}"
            f", tolerance {r.tolerance:g}"
        )
    else:
        lines.append("numeric    no numeric ground truth in this file")
    if r.mismatches:
        lines.append(f"mismatches {len(r.mismatches)}:")
        lines.extend(_mismatch_line(m) for m in r.mismatches)
    else:
        lines.append("mismatches 0")
    return "\n".join(lines)


def _table(reports: list[ValidationReport]) -> str:
    rows = [
        "| file | questions | numeric values checked | max error | mismatches |",
        "|---|---|---|---|---|",
    ]
    for r in reports:
        rows.append(
            f"| {r.path} | {r.total} | {r.numeric_checked} | {r.max_error:.2g} | {len(r.mismatches)} |"
        )
    return "\n".join(rows)
