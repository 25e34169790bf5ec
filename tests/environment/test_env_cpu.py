"""CpuEnv applies settings and restores everything, including what the test changed itself."""

from __future__ import annotations

import gc
import os
import random

import numpy as np
import pytest

from pytest_causal_eval.environment.affinity import available_cpus
from pytest_causal_eval.environment.cpu import CpuEnv, CpuEnvError
from pytest_causal_eval.environment.threads import THREAD_ENV_VARS, blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")
torch = pytest.importorskip("torch")


def _blas() -> list[int]:
    return [lib["threads"] for lib in blas_threads()]


def test_threads_seed_affinity_applied_then_restored_even_after_the_test_meddled() -> None:
    env_before = {k: os.environ.get(k) for k in THREAD_ENV_VARS}
    torch_before, blas_before, cpus_before = torch.get_num_threads(), _blas(), available_cpus()
    random.seed(99)
    expected_next = random.random()
    random.seed(99)
    env = CpuEnv().configure(threads=1, seed=7, affinity=[cpus_before[0]])
    assert torch.get_num_threads() == 1 and set(_blas()) == {1}
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert available_cpus() == (cpus_before[0],)
    random_value, numpy_value = random.random(), np.random.random()
    # The test changes thread settings on its own.
    torch.set_num_threads(3)
    threadpoolctl.threadpool_limits(limits=3)
    os.environ["MKL_NUM_THREADS"] = "5"
    env.restore()
    assert torch.get_num_threads() == torch_before
    assert _blas() == blas_before
    assert {k: os.environ.get(k) for k in THREAD_ENV_VARS} == env_before
    assert available_cpus() == cpus_before
    assert random.random() == expected_next  # the generator state came back too
    # Seeding is reproducible.
    again = CpuEnv().configure(seed=7)
    assert (random.random(), np.random.random()) == (random_value, numpy_value)
    again.restore()


def test_restore_without_configure_undoes_test_changes() -> None:
    before = torch.get_num_threads()
    env = CpuEnv()
    torch.set_num_threads(1 if before != 1 else 2)
    env.restore()
    assert torch.get_num_threads() == before and env.restored


def test_gc_policy_applies_only_inside_timing() -> None:
    assert gc.isenabled()
    env = CpuEnv().configure(gc="disabled")
    assert gc.isenabled() and env.gc_policy == "disabled"
    with env.timing():
        assert not gc.isenabled()
    assert gc.isenabled()
    frozen = CpuEnv().configure(gc="frozen")
    with frozen.timing():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    assert CpuEnv().configure(gc="enabled").gc_policy == "enabled"
    with pytest.raises(CpuEnvError, match="expected one of enabled, disabled, frozen, got 'default'"):
        CpuEnv().configure(gc="default")  # the runner's vocabulary, the marker's too: no alias
    gc.disable()
    try:
        CpuEnv().restore()  # captured disabled: stays disabled
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "threads=: expected a positive integer"),
        ({"interop_threads": "2"}, "interop_threads=: expected a positive integer"),
        ({"affinity": [4096]}, "not available to this process; allowed"),
        ({"affinity": "x"}, "affinity=: expected a CPU list"),
        ({"gc": "off"}, "gc=: expected one of enabled, disabled, frozen"),
        ({"seed": -1}, "seed=: expected an integer >= 0"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict[str, object], message: str) -> None:
    env = CpuEnv()
    with pytest.raises(CpuEnvError, match=message.replace("(", r"\(").replace("[", r"\[")):
        env.configure(**kwargs)  # type: ignore[arg-type]
    env.restore()


def test_describe_reports_settings_and_state() -> None:
    env = CpuEnv().configure(threads=1)
    try:
        record = env.describe()
        assert record["configured"] is True and record["settings"] == {"threads": 1}
        assert record["state"]["torch"]["intra_op"] == 1
        assert record["state"]["env"]["OMP_NUM_THREADS"] == "1"
    finally:
        env.restore()
