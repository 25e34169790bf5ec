"""The profiling passes on real workloads (pyinstrument, memray, tracemalloc, torch.profiler)."""

from __future__ import annotations

import json
import sys
import threading
import tracemalloc
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.profiling.cpu import profile_cpu
from pytest_causal_eval.profiling.gpu import cuda_trace_activities, record_torch_trace
from pytest_causal_eval.profiling.leak import check_leak
from pytest_causal_eval.profiling.memory import (
    memray_unavailable,
    profile_memory,
    profile_memory_memray,
    profile_memory_tracemalloc,
)

HERE = str(Path(__file__).parent)
THIS = Path(__file__).name


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def workload() -> int:
    return spin(20_000) + len(str(spin(10)))


def test_cpu_pass_finds_the_hot_function_and_renders_both_formats() -> None:
    prof = profile_cpu(workload, [HERE], min_seconds=0.05)
    assert prof.runs >= 1 and prof.samples > 0
    by_name = {h.function: h for h in prof.hotspots}
    assert by_name["spin"].file == THIS
    assert by_name["spin"].self_share > 0.5
    assert prof.hotspots[0].function == "spin"
    assert "<html" in prof.html.lower()
    assert "speedscope" in json.loads(prof.speedscope)["$schema"]


def test_cpu_pass_runs_the_workload_at_least_once() -> None:
    calls: list[int] = []
    prof = profile_cpu(lambda: calls.append(1), [HERE], min_seconds=0.0)
    assert prof.runs == 1 and calls == [1]


def allocate() -> list[bytearray]:
    return [bytearray(1024) for _ in range(1024)]


@pytest.mark.skipif(memray_unavailable() is not None, reason="memray does not run here")
def test_memray_pass_reports_peak_count_sites_and_flamegraph() -> None:
    prof = profile_memory_memray(allocate, [HERE])
    assert prof.backend == "memray"
    assert prof.peak >= 1024 * 1024
    assert prof.allocations is not None and prof.allocations >= 1024
    top = prof.sites[0]
    assert top.file == THIS and top.size >= 1024 * 1024
    assert prof.flamegraph_html is not None and "<html" in prof.flamegraph_html.lower()
    # our own page: no script and nothing from the network (memray's flame graph loads from a CDN)
    assert "<script" not in prof.flamegraph_html and "https://" not in prof.flamegraph_html
    assert "allocate" in prof.flamegraph_html


def test_tracemalloc_pass_reports_peak_and_retained_sites() -> None:
    kept: list[Any] = []

    def keep() -> None:
        kept.append(allocate())

    prof = profile_memory_tracemalloc(keep, [HERE])
    assert prof.backend == "tracemalloc" and prof.allocations is None
    assert prof.peak >= 1024 * 1024
    assert prof.sites[0].file == THIS and "bytearray(1024)" in prof.sites[0].function
    assert not tracemalloc.is_tracing()
    assert prof.flamegraph_html is not None and "bytearray(1024)" in prof.flamegraph_html


def test_memory_pass_falls_back_to_tracemalloc_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "memray", None)
    prof = profile_memory(allocate, [HERE])
    assert prof.backend == "tracemalloc"
    assert prof.note is not None and "memray is not installed" in prof.note and "tracemalloc" in prof.note


LEAKED: list[bytes] = []


def test_leak_check_fits_the_growth_per_call() -> None:
    LEAKED.clear()

    def leaky() -> None:
        LEAKED.append(bytes(4000))

    found = check_leak(leaky, [HERE], min_iterations=8, max_iterations=8, budget_seconds=0.0)
    assert found.iterations == 8 and len(found.retained) == 9
    assert 4000 <= found.per_iteration <= 4200
    assert found.sites[0].file == THIS and "LEAKED.append" in found.sites[0].function
    assert found.sites[0].size >= 8 * 4000
    LEAKED.clear()


def test_leak_check_sees_no_growth_in_a_clean_workload() -> None:
    found = check_leak(allocate, [HERE], min_iterations=8, max_iterations=8, budget_seconds=0.0)
    assert abs(found.per_iteration) < 64
    assert not tracemalloc.is_tracing()


class Helper(threading.Thread):
    """A thread that existed before the check and keeps 3000 B each time it is asked (a long-lived
    pool's worker, or anything else that allocates on its own thread while the workload runs)."""

    def __init__(self) -> None:
        super().__init__(name="helper", daemon=True)
        self.asked = threading.Event()
        self.done = threading.Event()
        self.kept: list[bytes] = []
        self.stop = False

    def run(self) -> None:
        while True:
            self.asked.wait()
            self.asked.clear()
            if self.stop:
                return
            self.kept.append(bytes(3000))
            self.done.set()

    def ask(self) -> None:
        self.asked.set()
        assert self.done.wait(10)
        self.done.clear()


def test_leak_check_counts_the_workload_thread_and_says_what_other_threads_kept() -> None:
    helper = Helper()
    helper.start()
    try:
        found = check_leak(helper.ask, [HERE], min_iterations=8, max_iterations=8, budget_seconds=0.0)
    finally:
        helper.stop = True
        helper.asked.set()
        helper.join(10)
    assert abs(found.per_iteration) < 64  # the calling thread kept nothing
    assert found.other_threads_per_iteration is not None and found.other_threads_per_iteration >= 3000
    assert found.note is not None and "other threads retained" in found.note
    assert f"helper ({Helper.__module__}.Helper)" in found.note
    assert all("bytes(3000)" not in site.function for site in found.sites)


def test_leak_check_counts_a_deep_workload_whose_stack_is_cut() -> None:
    def deep(n: int) -> None:
        if n:
            deep(n - 1)
        else:
            LEAKED.append(bytes(4000))

    found = check_leak(lambda: deep(100), [HERE], min_iterations=8, max_iterations=8, budget_seconds=0.0)
    LEAKED.clear()
    assert 4000 <= found.per_iteration <= 4200  # 100 frames below the marker: past the 64 kept


@pytest.mark.parametrize("frames", [1, 3])
def test_leak_check_under_a_short_tracemalloc_counts_every_thread_and_says_so(frames: int) -> None:
    def leaky() -> None:
        LEAKED.append(bytes(4000))

    tracemalloc.start(frames)  # as with python -X tracemalloc=N: started by someone else, few frames
    try:
        found = check_leak(leaky, [HERE], min_iterations=8, max_iterations=8, budget_seconds=0.0)
        assert tracemalloc.is_tracing()  # not ours to stop
    finally:
        tracemalloc.stop()
        LEAKED.clear()
    assert 4000 <= found.per_iteration <= 4200
    assert found.other_threads_per_iteration is None
    assert found.note is not None and f"tracing with {frames} frame(s)" in found.note
    assert "counts every thread's allocations" in found.note


def test_cuda_trace_activities_never_imports_torch() -> None:
    assert cuda_trace_activities({}) is None
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: True))
    assert cuda_trace_activities({"torch": fake}) == ("cpu", "cuda")
    fake_cpu = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    assert cuda_trace_activities({"torch": fake_cpu}) is None

    def broken() -> bool:
        raise RuntimeError("driver mismatch")

    assert (
        cuda_trace_activities(
            {"torch": types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=broken))}
        )
        is None
    )


def test_torch_trace_with_cpu_activities_is_a_chrome_trace() -> None:
    torch = pytest.importorskip("torch")
    a = torch.ones(64, 64)
    data = record_torch_trace(lambda: a @ a, ("cpu",))
    trace = json.loads(data)
    names = {e.get("name") for e in trace["traceEvents"]}
    assert any("matmul" in str(n) or n == "mm" for n in names)
    with pytest.raises(ValueError, match="allowed: cpu, cuda"):
        record_torch_trace(lambda: None, ("tpu",))
