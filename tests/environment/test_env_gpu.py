"""GpuEnv and adaptive_batch on CPU torch with the CUDA calls patched by a fake runtime."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_causal_eval.environment.gpu import (
    GpuEnv,
    GpuEnvError,
    adaptive_batch,
    cuda_status,
    gpu_info,
    is_out_of_memory,
)

torch = pytest.importorskip("torch")


def test_cuda_status_on_this_cpu_build_says_why() -> None:
    usable, reason = cuda_status()
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        assert usable
    else:
        assert not usable and "CUDA is not available" in reason


def test_switches_applied_and_restored(fake_cuda: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    backends = torch.backends
    before = (
        backends.cuda.matmul.allow_tf32,
        backends.cudnn.allow_tf32,
        backends.cudnn.benchmark,
        backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
    )
    env = GpuEnv(worker=3)
    assert env.index == 1 and fake_cuda.current == 1  # worker 3 of 2 GPUs -> cuda:1
    env.configure(
        device="cuda:0",
        precision="bf16",
        memory_fraction=0.5,
        tf32=not before[0],
        cudnn_benchmark=not before[2],
        deterministic=True,
        alloc_conf="expandable_segments:True",
    )
    assert env.device == "cuda:0" and fake_cuda.fractions[0] == 0.5
    assert backends.cuda.matmul.allow_tf32 is (not before[0]) and backends.cudnn.benchmark is (not before[2])
    assert torch.are_deterministic_algorithms_enabled() and backends.cudnn.deterministic
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert env.dtype is torch.bfloat16
    record = env.describe()
    assert record["name"] == "Fake GPU 9000" and record["precision"] == "bf16"
    assert record["settings"]["memory_fraction"] == 0.5 and record["device"] == "cuda:0"
    env.restore()
    after = (
        backends.cuda.matmul.allow_tf32,
        backends.cudnn.allow_tf32,
        backends.cudnn.benchmark,
        backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
    )
    assert after == before
    assert fake_cuda.fractions[0] == 1.0 and fake_cuda.current == 0
    assert "PYTORCH_CUDA_ALLOC_CONF" not in os.environ and "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_device_restored_to_what_it_was(fake_cuda: Any) -> None:
    fake_cuda.current = 1
    env = GpuEnv(worker=None)
    assert fake_cuda.current == 0
    env.restore()
    assert fake_cuda.current == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "fp8"}, "precision=: expected one of fp32, fp16, bf16"),
        ({"memory_fraction": 0}, r"memory_fraction=: expected a number in \(0, 1\]"),
        ({"memory_fraction": True}, "memory_fraction="),
        ({"tf32": "yes"}, "tf32=: expected True or False"),
        ({"device": "cuda:7"}, "only 2 CUDA device"),
        ({"alloc_conf": 3}, "alloc_conf=: expected a string"),
    ],
)
def test_bad_settings(fake_cuda: Any, kwargs: dict[str, Any], message: str) -> None:
    env = GpuEnv()
    with pytest.raises(GpuEnvError, match=message):
        env.configure(**kwargs)
    env.restore()


def test_peak_memory_and_precision(fake_cuda: Any) -> None:
    env = GpuEnv()
    fake_cuda.peaks = {"allocated": 10, "reserved": 20}
    env.reset_peak()
    assert env.peak() == (0, 0) and fake_cuda.resets == 1
    fake_cuda.peaks = {"allocated": 1 << 20, "reserved": 2 << 20}
    assert env.peak() == (1 << 20, 2 << 20)
    assert env.dtype is torch.float32
    with env.autocast():
        pass
    env.configure(precision="fp16")
    assert env.dtype is torch.float16
    env.restore()


def test_gpu_info_fields(fake_cuda: Any) -> None:
    info = gpu_info(torch, 1)
    assert info["device"] == "cuda:1" and info["capability"] == "9.0" and info["device_count"] == 2
    assert set(info) >= {"torch", "cuda", "cudnn", "name", "total_memory"}


def test_adaptive_batch_halves_on_out_of_memory(fake_cuda: Any) -> None:
    tried: list[int] = []

    def step(batch: int) -> str:
        tried.append(batch)
        if batch > 12:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"ok {batch}"

    retries: list[int] = []
    result = adaptive_batch(step, 64, on_retry=lambda size, exc: retries.append(size))
    assert tried == [64, 32, 16, 8] and result.value == "ok 8" and result.batch_size == 8
    assert result.attempts == 4 and retries == [32, 16, 8] and fake_cuda.empty_cache_calls == 3


def test_adaptive_batch_stops_at_min_batch_and_passes_other_errors() -> None:
    def always_oom(batch: int) -> None:
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        adaptive_batch(always_oom, 8, min_batch=4)

    calls: list[int] = []

    def broken(batch: int) -> None:
        calls.append(batch)
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        adaptive_batch(broken, 8)
    assert calls == [8]
    with pytest.raises(ValueError, match="min_batch \\(9\\) must not exceed"):
        adaptive_batch(broken, 8, min_batch=9)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        adaptive_batch(broken, 0)
    assert is_out_of_memory(RuntimeError("CUDA out of memory")) and not is_out_of_memory(ValueError("x"))
