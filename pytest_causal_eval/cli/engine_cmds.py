"""``causal-eval generate`` and ``causal-eval evaluate``: the causal evaluation engine's commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import CLIError
from ._args import deprecated_alias

if TYPE_CHECKING:
    from ..engine import EvalResult, Question

__all__ = ["register"]


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value


def _option_value(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="write generated causal-reasoning questions as JSONL",
        description=(
            "Generate a seeded stream of questions from a task and write it as JSONL, one question "
            "per line with the causal model it asks about (graph and probability tables)."
        ),
    )
    gen.add_argument("--task", required=True, metavar="NAME", help="task name (e.g. intervention)")
    gen.add_argument("-n", type=int, default=100, metavar="N", help="number of questions (default 100)")
    gen.add_argument("--seed", type=int, default=0, metavar="N", help="stream seed (default 0)")
    gen.add_argument(
        "--difficulty", default="medium", metavar="LEVEL", help="easy, medium or hard (default medium)"
    )
    gen.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="write the questions (JSONL) to PATH ('-': stdout)",
    )
    gen.set_defaults(func=_generate)

    ev = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on a task or a dataset",
        description="Evaluate a model and print accuracy with intervals, breakdowns and throughput.",
    )
    ev.add_argument(
        "--model", required=True, metavar="NAME", help="model name (oracle, random, constant, replay, ...)"
    )
    ev.add_argument(
        "--model-arg",
        action="append",
        default=[],
        type=_key_value,
        metavar="NAME=VALUE",
        help="model option, e.g. path=outputs.json or seed=3 (repeatable)",
    )
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", metavar="NAME", help="generated task name")
    source.add_argument("--dataset", metavar="PATH", help="dataset file (JSON or JSONL)")
    ev.add_argument(
        "--format", choices=["cladder", "bbh", "jsonl", "json"], help="dataset format (default: detected)"
    )
    ev.add_argument(
        "--field",
        action="append",
        default=[],
        type=_key_value,
        metavar="NAME=COLUMN",
        help="map an engine field (prompt, premise, question, choices, answer, id, ...) to a column; "
        "choices=COL1,COL2 builds the choices from several columns",
    )
    ev.add_argument(
        "--label-base",
        type=int,
        choices=[0, 1],
        help="an integer answer label is an index into the choices counted from 0 or 1 (default 0)",
    )
    ev.add_argument(
        "-n", type=int, default=None, metavar="N", help="number of questions (tasks: default 1000)"
    )
    ev.add_argument(
        "--seed", type=int, default=0, metavar="N", help="task stream and bootstrap seed (default 0)"
    )
    ev.add_argument(
        "--difficulty", default="medium", metavar="LEVEL", help="task difficulty (default medium)"
    )
    ev.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="questions per model call (default 16)"
    )
    ev.add_argument(
        "--executor",
        choices=["serial", "thread", "process", "async", "ray"],
        default="serial",
        help="how model calls run (default serial)",
    )
    ev.add_argument("--workers", type=int, metavar="N", help="workers of a thread/process/async/ray executor")
    ev.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="an existing Ray cluster for --executor ray (default: start one)",
    )
    ev.add_argument(
        "--cache",
        metavar="DIR|redis://...|memory",
        help="response cache: a directory (SQLite), a Redis URL, or memory",
    )
    ev.add_argument(
        "--cache-ttl", type=float, metavar="SECONDS", help="cache entry lifetime (default: forever)"
    )
    ev.add_argument(
        "--cache-fallback",
        metavar="DIR",
        help="if the cache cannot be used, at start or mid-run (Redis went away), warn and use SQLite here",
    )
    ev.add_argument(
        "--base-url",
        metavar="URL",
        help="--model openai: the server's base URL, e.g. http://127.0.0.1:8000/v1",
    )
    ev.add_argument("--model-name", metavar="NAME", help="--model openai: the model id to request")
    ev.add_argument(
        "--max-response-bytes",
        type=int,
        metavar="N",
        help="--model openai: fail a question whose response body is larger than N bytes (default 4 MiB)",
    )
    ev.add_argument(
        "--extraction",
        choices=["strict", "flexible"],
        default="flexible",
        help="how a response is read: strict (the whole response must be a choice) or flexible (also "
        "an answer statement such as 'the answer is no', or a leading choice; default)",
    )
    ev.add_argument(
        "--max-error-rate",
        type=float,
        default=0.1,
        metavar="RATE",
        help="abort when more than this fraction of questions fail, 0 to 1 (default 0.1; errors are "
        "counted apart from accuracy)",
    )
    ev.add_argument(
        "--bootstrap", type=int, default=1000, metavar="N", help="cluster bootstrap replicates (default 1000)"
    )
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    output = ev.add_argument(
        "-o", "--output", metavar="PATH", help="write one JSON record per question (JSONL) to PATH"
    )
    deprecated_alias(ev, "--output-jsonl", output)
    ev.set_defaults(func=_evaluate)


def _generate(args: argparse.Namespace) -> int:
    from ..engine import EngineError, create_task

    if args.n < 0:
        raise CLIError("-n must be non-negative")
    try:
        task = create_task(args.task, difficulty=args.difficulty)
        out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    except EngineError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc}") from None
    try:
        written = 0
        for cluster in task.clusters(args.seed):
            if written >= args.n:
                break
            model = cluster.model_record()  # each record carries its causal model
            for q in cluster.questions[: args.n - written]:
                out.write(json.dumps({**q.to_dict(), "model": model}, ensure_ascii=False))
                out.write("\n")
                written += 1
        out.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output != "-":
        print(f"wrote {args.n} {args.task} questions (seed {args.seed}) to {args.output}", file=sys.stderr)
    return 0


def _questions(args: argparse.Namespace) -> tuple[Iterable[Question], int | None]:
    from ..engine import create_task, load_dataset

    if args.task:
        if args.format or args.field or args.label_base is not None:
            raise CLIError("--format, --field and --label-base apply to --dataset only")
        return create_task(args.task, difficulty=args.difficulty).questions(args.seed), args.n or 1000
    fields = dict(args.field)
    return load_dataset(args.dataset, args.format, fields or None, label_base=args.label_base), args.n


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {k: _option_value(v) for k, v in args.model_arg}
    if args.model == "openai":
        for flag, key in (("base_url", "base_url"), ("model_name", "model_name")):
            value = getattr(args, flag)
            if value is not None:
                options[key] = value
            elif key not in options:
                raise CLIError(f"--model openai needs --{flag.replace('_', '-')}")
        if args.max_response_bytes is not None:
            if args.max_response_bytes < 1:
                raise CLIError(
                    f"--max-response-bytes must be a positive number of bytes, got {args.max_response_bytes}"
                )
            options["max_response_bytes"] = args.max_response_bytes
    elif args.base_url or args.model_name or args.max_response_bytes is not None:
        raise CLIError("--base-url, --model-name and --max-response-bytes apply to --model openai only")
    if args.model == "replay" and options.get("match") == "order" and args.dataset:
        options.setdefault("dataset", args.dataset)  # the i-th recording answers the i-th question
        # of the dataset as this command reads it: the same format, columns and label base
        if args.format:
            options.setdefault("dataset_format", args.format)
        if args.field:
            options.setdefault("dataset_fields", dict(args.field))
        if args.label_base is not None:
            options.setdefault("label_base", args.label_base)
    return options


@contextlib.contextmanager
def _cache_warnings_to_stderr() -> Iterator[None]:
    """Print each cache warning as ``causal-eval: warning: ...`` when it happens (a cache that
    fails mid-run is said once, and the run goes on)."""
    from ..engine.run.cache import CacheWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", CacheWarning)
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
            if issubclass(category, CacheWarning):
                print(f"causal-eval: warning: {message}", file=sys.stderr, flush=True)
            else:
                shown(message, category, *rest, **kw)

        warnings.showwarning = show
        yield


def _open_cache(args: argparse.Namespace) -> Any:
    from ..engine.run.cache import open_cache

    if not args.cache:
        if args.cache_ttl is not None or args.cache_fallback:
            raise CLIError("--cache-ttl and --cache-fallback need --cache")
        return None
    if args.cache == "memory" and args.cache_fallback:
        raise CLIError("--cache-fallback applies to a disk or Redis cache, not --cache memory")
    return open_cache(args.cache, ttl=args.cache_ttl, fallback_dir=args.cache_fallback)


def _evaluate(args: argparse.Namespace) -> int:
    with _cache_warnings_to_stderr():
        return _evaluate_run(args)


def _evaluate_run(args: argparse.Namespace) -> int:
    from ..engine import EngineError, Evaluator, create_model
    from ..engine.redaction import redact

    if args.n is not None and args.n < 0:
        raise CLIError("-n must be non-negative")
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    if args.executor == "serial" and args.workers not in (None, 1):
        raise CLIError("--workers needs --executor thread, process, async or ray")
    if args.ray_address and args.executor != "ray":
        raise CLIError("--ray-address applies to --executor ray only")
    from ._progress import CountProgress

    if args.model == "oracle" and args.dataset:
        print(
            "causal-eval: warning: the oracle answers with the dataset's own answer field, so it scores "
            "100% on any file: this measures the harness, not the engine; to check a CLadder file's "
            "ground truth use causal-eval validate cladder PATH",
            file=sys.stderr,
        )
    cache = None
    progress: CountProgress | None = None
    try:
        options = _model_options(args)
        cache = _open_cache(args)
        model = create_model(args.model, **options)
        questions, n = _questions(args)
        progress = CountProgress("evaluate", n, "questions")
        evaluator = Evaluator(
            model,
            batch_size=args.batch_size,
            executor=args.executor,
            workers=args.workers,
            executor_options={"address": args.ray_address} if args.ray_address else None,
            cache=cache,
            extraction=args.extraction,
            max_error_rate=args.max_error_rate,
            bootstrap_reps=args.bootstrap,
            seed=args.seed,
            progress=progress.update,
        )
        result = evaluator.run(questions, n, output_jsonl=args.output)
    except EngineError as exc:
        raise CLIError(redact(str(exc))) from None
    finally:
        if progress is not None:
            progress.close()
        if cache is not None:
            cache.close()
        close = getattr(locals().get("model"), "close", None)
        if callable(close):
            close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(_render(result, args))
    return 0


def _pct(x: float) -> str:
    return f"{100.0 * x:6.2f}%"


def _render(result: EvalResult, args: argparse.Namespace) -> str:
    source = f"task {args.task}" if args.task else f"dataset {args.dataset}"
    o = result.overall
    if result.clusters_folded:
        buckets = result.settings.get("max_clusters", result.clusters)
        over = (
            f" over {result.clusters} buckets (more than {buckets} clusters: folded into {buckets} buckets"
            " by hash, so the interval is slightly conservative)"
        )
    else:
        over = f" over {result.clusters} clusters"
    lines = [
        f"model {result.model} ({result.fingerprint}) on {source}",
        f"questions  {o.n}   answered {o.answered}   correct {o.correct}   unparsed {o.unparsed}"
        f"   errors {o.errors} ({_pct(o.error_rate).strip()} error rate)",
        f"accuracy   {_pct(o.accuracy)}   Wilson 95% [{_pct(o.wilson[0])}, {_pct(o.wilson[1])}]"
        f"   cluster bootstrap 95% [{_pct(result.bootstrap[0])}, {_pct(result.bootstrap[1])}]{over}"
        if o.answered
        else "accuracy   n/a: no question was answered (every model call failed)",
    ]
    if o.errors and o.answered:
        lines.append(
            f"           accuracy is over the {o.answered} answered questions; the {o.errors} errors"
            " (failed model calls) are counted apart"
        )
    for key, groups in result.breakdowns.items():
        if not groups:
            continue
        lines.append(f"by {key}:")
        width = max(len(name) for name in groups)
        for name, stats in groups.items():
            lines.append(
                f"  {name:<{width}}  n={stats.n:<6d} {_pct(stats.accuracy)}"
                f"  [{_pct(stats.wilson[0])}, {_pct(stats.wilson[1])}]"
                + (f"  unparsed={stats.unparsed}" if stats.unparsed else "")
                + (f"  errors={stats.errors}" if stats.errors else "")
            )
    lat = result.latency
    lines.append(
        f"throughput {result.throughput:,.0f} questions/s   elapsed {result.elapsed_s:.3f}s"
        f"   model time {result.model_time_s:.3f}s in {result.batches} batches"
    )
    if result.settings.get("cache") is not None:
        lines.append(f"cache      {result.cache_hits} hits   {result.cache_misses} misses")
    lines.append(
        f"latency    p50 {1000 * lat.p50:.3f} ms   p90 {1000 * lat.p90:.3f} ms   p99 {1000 * lat.p99:.3f} ms"
        f"   max {1000 * lat.max:.3f} ms"
    )
    return "\n".join(lines)
