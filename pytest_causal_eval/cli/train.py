"""``causal-eval train``: fit the ``torch`` classifier on generated questions."""

from __future__ import annotations

import argparse
import json
import sys

from . import CLIError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the torch yes/no classifier on generated questions",
        description=(
            "Fit the torch model (hashed features, small MLP) on generated questions, report held-out "
            "accuracy per task (questions from another stream seed), and save model.pt (a state_dict) "
            "and model.json beside it. Use it with --model torch --model-arg checkpoint=PATH."
        ),
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="write the checkpoint to PATH (model.pt, and model.json beside it; a directory gets both)",
    )
    p.add_argument(
        "--task", action="append", metavar="NAME", help="task to train on (repeatable; default: all)"
    )
    p.add_argument(
        "-n", type=int, default=2000, metavar="N", help="training questions per task (default 2000)"
    )
    p.add_argument(
        "--heldout", type=int, default=500, metavar="N", help="held-out questions per task (default 500)"
    )
    p.add_argument(
        "--epochs", type=int, default=5, metavar="N", help="passes over the training set (default 5)"
    )
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="stream and initialization seed (default 0)"
    )
    p.add_argument("--difficulty", default="medium", metavar="LEVEL", help="task difficulty (default medium)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from ..engine import EngineError, task_names

    for flag, value, low in (("-n", args.n, 1), ("--heldout", args.heldout, 1), ("--epochs", args.epochs, 1)):
        if value < low:
            raise CLIError(f"{flag} must be at least {low}, got {value}")
    tasks = args.task or task_names()
    unknown = [t for t in tasks if t not in task_names()]
    if unknown:
        raise CLIError(f"unknown task {unknown[0]!r}; valid tasks: {', '.join(task_names())}")
    try:
        from ..engine.models.training import train_classifier
    except ImportError:
        raise CLIError("train needs torch: pip install 'pytest-causal-eval[torch]'") from None
    log = None if args.json else (lambda line: print(line, file=sys.stderr))
    try:
        report = train_classifier(
            args.output,
            tasks=tasks,
            n_per_task=args.n,
            heldout_per_task=args.heldout,
            epochs=args.epochs,
            seed=args.seed,
            difficulty=args.difficulty,
            log=log,
        )
    except EngineError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc}") from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return 0
    print(f"trained on {report.train_n} questions in {report.seconds:.1f}s; saved {report.weights}")
    print(f"{'task':<20} {'held-out accuracy':>18}")
    for task, acc in report.heldout_accuracy.items():
        print(f"{task:<20} {100 * acc:>17.1f}%")
    return 0
