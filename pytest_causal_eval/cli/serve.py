"""``causal-eval serve``: an OpenAI-compatible HTTP endpoint in front of any engine model."""

from __future__ import annotations

import argparse
import sys

from . import CLIError
from .engine_cmds import _key_value, _option_value

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve an engine model over an OpenAI-compatible HTTP API",
        description=(
            "Serve a model at POST /v1/chat/completions (the prompt is the last user message), "
            "GET /v1/models and GET /health. The oracle needs --model-arg task=NAME (and seed=, n=): "
            "the server regenerates those questions and answers by prompt lookup."
        ),
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help="model name (oracle, random, constant, torch, spin, ...)",
    )
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        type=_key_value,
        metavar="NAME=VALUE",
        help="model option, e.g. task=intervention (repeatable)",
    )
    p.add_argument("--host", default="127.0.0.1", metavar="HOST", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, metavar="PORT", help="port (default 8000)")
    p.add_argument(
        "--served-name", metavar="NAME", help="model id reported by the API (default: the model name)"
    )
    p.add_argument(
        "--max-batch", type=int, default=64, metavar="N", help="most prompts per model call (default 64)"
    )
    p.add_argument(
        "--faults",
        metavar="CODE=RATE,...",
        help="inject faults, e.g. 429=0.1,500=0.05,timeout=0.02,malformed=0.02 (default: none)",
    )
    p.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed of the fault draws (default 0)"
    )
    p.add_argument(
        "--fault-stall",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a 'timeout' fault stalls (default 30)",
    )
    p.add_argument(
        "--fault-retry-after",
        default="1",
        metavar="SECONDS",
        help="Retry-After header of 429 faults (default 1)",
    )
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (default warning)",
    )
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..engine import EngineError
    from ..engine.serving.server import FaultPlan, create_app, parse_faults, serving_model

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be within 0..65535, got {args.port}")
    if args.max_batch < 1:
        raise CLIError(f"--max-batch must be at least 1, got {args.max_batch}")
    try:
        import uvicorn
    except ImportError:
        raise CLIError("serve needs uvicorn and starlette: pip install 'pytest-causal-eval[http]'") from None
    try:
        options = {k: _option_value(v) for k, v in args.model_arg}
        model = serving_model(args.model, options)
        faults = None
        if args.faults:
            faults = FaultPlan(
                parse_faults(args.faults),
                seed=args.fault_seed,
                stall_s=args.fault_stall,
                retry_after=args.fault_retry_after,
            )
    except EngineError as exc:
        raise CLIError(str(exc)) from None
    app = create_app(
        model, served_name=args.served_name or args.model, faults=faults, max_batch=args.max_batch
    )
    print(f"serving {model.name} ({model.fingerprint}) at http://{args.host}:{args.port}/v1", file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    return 0
