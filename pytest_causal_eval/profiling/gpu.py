"""torch.profiler traces (Chrome trace JSON) for CUDA workloads; torch is never imported here unless the
test already imported it."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_causal_eval.measure.passes import Steps, drive

__all__ = ["cuda_trace_activities", "record_torch_trace", "torch_trace_steps"]


def cuda_trace_activities(modules: Mapping[str, Any] | None = None) -> tuple[str, ...] | None:
    """``("cpu", "cuda")`` when torch is already imported and sees a CUDA device, else None."""
    torch = (sys.modules if modules is None else modules).get("torch")
    if torch is None:
        return None
    try:
        available = bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install is "no CUDA", not a crash
        return None
    return ("cpu", "cuda") if available else None


def record_torch_trace(workload: Callable[[], Any], activities: Sequence[str]) -> bytes:
    """Run the workload once under torch.profiler with ``activities`` (``cpu``/``cuda``); the Chrome trace."""
    return drive(torch_trace_steps(activities), workload)


def torch_trace_steps(activities: Sequence[str]) -> Steps[bytes]:
    """``record_torch_trace`` as a pass (see ``measure.passes``): one run of the workload."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    known = {"cpu": ProfilerActivity.CPU, "cuda": ProfilerActivity.CUDA}
    unknown = [a for a in activities if a not in known]
    if unknown:
        raise ValueError(f"unknown torch.profiler activities {unknown}; allowed: cpu, cuda")
    with profile(activities=[known[a] for a in activities]) as prof:
        yield None
        if "cuda" in activities:
            torch.cuda.synchronize()
    with tempfile.TemporaryDirectory(prefix="causal-eval-torch-") as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        return path.read_bytes()
