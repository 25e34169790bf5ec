"""cpu_env / gpu_env / health / I/O end to end through pytester."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

from .envfakes import FAKE_CUDA_SOURCE

pytest_plugins = ["pytester"]

ON = ("--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-time=5ms", "-p", "no:cacheprovider")
QUIET = "--causal-eval-health-sample=off"

FAKE_CUDA_CONFTEST = (
    FAKE_CUDA_SOURCE
    + FAKE_CLOCK_SOURCE
    + """
@pytest.fixture(autouse=True)
def fake_cuda(monkeypatch):
    return FakeCuda().install(monkeypatch)
"""
)


def run_json(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "results.json"
    result = pytester.runpytest(*ON, QUIET, "--causal-eval-json", str(out), *args)
    return result, json.loads(out.read_text()) if out.exists() else {}


def by_id(data: dict[str, Any]) -> dict[str, Any]:
    return {m["id"]: m for m in data["measurements"]}


def test_cpu_env_marker_applies_records_and_restores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cpu="""
        import gc, os
        import pytest

        BEFORE = {}

        def test_0_before():
            BEFORE["omp"] = os.environ.get("OMP_NUM_THREADS")
            BEFORE["cpus"] = os.sched_getaffinity(0)

        @pytest.mark.causal_eval(threads=1, affinity="0", seed=5, gc="frozen")
        def test_1_tuned(cpu_env, causal_bench):
            assert os.environ["OMP_NUM_THREADS"] == "1"
            assert os.sched_getaffinity(0) == {0}
            os.environ["OPENBLAS_NUM_THREADS"] = "7"   # the test meddles; restored anyway
            causal_bench(lambda: None)

        def test_2_configure_call(cpu_env, causal_bench):
            cpu_env.configure(threads=1, gc="disabled")
            seen = []
            causal_bench(lambda: seen.append(gc.isenabled()))
            assert seen and not any(seen)
            assert gc.isenabled()

        def test_3_after():
            assert os.environ.get("OMP_NUM_THREADS") == BEFORE["omp"]
            assert os.environ.get("OPENBLAS_NUM_THREADS") == BEFORE["omp"]
            assert os.sched_getaffinity(0) == BEFORE["cpus"]
        """
    )
    result, data = run_json(pytester)
    result.assert_outcomes(passed=4)
    ms = by_id(data)
    tuned = ms["test_cpu.py::test_1_tuned"]
    assert tuned["extra"]["cpu_env"]["settings"] == {"threads": 1, "affinity": "0", "seed": 5, "gc": "frozen"}
    assert tuned["extra"]["cpu_env"]["state"]["affinity"] == "0"
    assert tuned["gc"] == "frozen"
    call = ms["test_cpu.py::test_2_configure_call"]
    assert call["gc"] == "disabled" and call["extra"]["cpu_env"]["settings"]["threads"] == 1


def test_every_measurement_gets_health_io_and_cpu_state(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_io="""
        import os

        def test_io(causal_bench, tmp_path):
            target = tmp_path / "blob"

            def write():
                with open(target, "wb") as handle:
                    handle.write(b"x" * 256 * 1024)
                    handle.flush()
                    os.fsync(handle.fileno())

            causal_bench.pedantic(write, rounds=2)
        """
    )
    result, data = run_json(pytester)
    result.assert_outcomes(passed=1)
    m = data["measurements"][0]
    assert {"noisy", "load_avg_1m", "busy_processes", "reasons", "judged_by"} <= set(m["extra"]["health"])
    assert isinstance(m["extra"]["health"]["load_avg_1m"], float)
    assert m["extra"]["cpu_env"]["configured"] is False and "affinity" in m["extra"]["cpu_env"]["state"]
    assert (
        m["metrics"]["io_read_bytes"]["unit"] == "B" and m["metrics"]["io_write_bytes"]["better"] == "lower"
    )
    health = data["environment"]["health"]
    assert {"noisy", "load_avg_1m", "cpus", "memory_available", "governor", "turbo"} <= set(health)
    assert data["environment"]["xdist"] == {"mode": "off", "requested_mode": "serial", "workers": 1}


def test_noisy_machine_gives_a_summary_line_not_a_python_warning(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import importlib

        from pytest_causal_eval.environment.health import BusyProcess, HealthSample

        # importlib, not "from package import readings": pytester drops modules between runs and the
        # package attribute may point at a stale copy.
        readings = importlib.import_module("pytest_causal_eval.environment.readings")
        ORIGINAL = readings.sample_health

        def pytest_configure(config):
            readings.sample_health = lambda interval=0.2, own_processes=1: HealthSample(
                cpus=2, load_avg=(0.1, 0.1, 0.1), busy_processes=[BusyProcess(4242, "miner", 97.0)]
            )

        def pytest_unconfigure(config):
            readings.sample_health = ORIGINAL
        """
    )
    pytester.makepyfile(test_n="def test_n(causal_bench):\n    causal_bench(lambda: 1)\n")
    # every warning is an error, but the in-process run's own note that the already imported plugin
    # cannot be assertion-rewritten (a pytester artefact, not ours)
    result, data = run_json(pytester, "-W", "error", "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        # a warning, or a note when each measurement's own reading of the foreign load judged it
        ["*the machine looked noisy at the start: busy processes: miner (pid 4242, 97% of one CPU)*"]
    )
    assert data["environment"]["health"]["noisy"] is True
    assert data["measurements"][0]["extra"]["health"]["busy_processes"][0]["name"] == "miner"


def test_marker_settings_without_the_fixture_fail_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.causal_eval(threads=2)
        def test_m(causal_bench):
            causal_bench(lambda: 1)

        @pytest.mark.causal_eval(precision="fp16")
        def test_g():
            pass
        """
    )
    result = pytester.runpytest(*ON, QUIET)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*causal_eval(threads=...) configures the cpu_env fixture; add cpu_env*",
            "*causal_eval(precision=...) configures the gpu_env fixture; add gpu_env*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_bad_marker_value_is_a_collection_error_naming_the_test_and_the_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_b="""
        import pytest

        @pytest.mark.causal_eval(threads=0)
        def test_b(cpu_env):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_b.py::test_b: @pytest.mark.causal_eval(threads=...): expected an integer >= 1, got 0*"]
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_unknown_xdist_mode_is_a_usage_error(pytester: pytest.Pytester, enabled: bool) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    args = [*ON] if enabled else []
    result = pytester.runpytest(*args, "--causal-eval-xdist=fast")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-xdist: expected one of serial, pin, off, got 'fast'*"])


def test_gpu_env_skips_without_cuda_and_fails_under_require_gpu(pytester: pytest.Pytester) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        pytest.skip("this machine has CUDA")
    pytester.makepyfile(
        test_g="""
        import pytest

        def test_g(gpu_env):
            pass

        @pytest.mark.causal_eval(device="cuda")
        def test_marker_only(causal_bench):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1, passed=1)  # plugin off: the device marker alone does nothing
    result.stdout.fnmatch_lines(["*gpu_env: CUDA is not available*"])
    on = pytester.runpytest(*ON, QUIET, "-rs")
    on.assert_outcomes(skipped=2)
    required = pytester.runpytest("-p", "no:cacheprovider", "--causal-eval-require-gpu")
    required.assert_outcomes(errors=1, passed=1)
    required.stdout.fnmatch_lines(["*gpu_env: CUDA is not available*--causal-eval-require-gpu is set*"])


def test_gpu_measurement_with_fake_cuda(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makeconftest(FAKE_CUDA_CONFTEST)
    pytester.makepyfile(
        test_gpu="""
        import pytest

        @pytest.mark.causal_eval(precision="bf16", memory_fraction=0.5)
        def test_synced(gpu_env, causal_bench, fake_timer, fake_cuda):
            assert gpu_env.precision == "bf16" and fake_cuda.fractions[0] == 0.5
            def step():
                fake_timer.now += 2000
                fake_cuda.device_now += 1500
                fake_cuda.peaks = {"allocated": 4096, "reserved": 8192}
            causal_bench(step)

        @pytest.mark.causal_eval(device="cuda:1")
        def test_unsynced_marker_only(causal_bench, fake_timer, fake_cuda):
            def step():
                fake_timer.now += 1000
                fake_cuda.device_now += 9000    # the host "did not wait"
            causal_bench(step)
            assert fake_cuda.current == 1

        def test_plain_after(causal_bench, fake_timer, fake_cuda):
            assert fake_cuda.current == 0
            causal_bench(lambda: setattr(fake_timer, "now", fake_timer.now + 1000))
        """
    )
    result, data = run_json(pytester)
    result.assert_outcomes(passed=3)
    ms = by_id(data)
    synced = ms["test_gpu.py::test_synced"]
    assert synced["metrics"]["gpu_peak_allocated"] == {
        "name": "gpu_peak_allocated",
        "value": 4096.0,
        "unit": "B",
        "better": "lower",
    }
    assert synced["metrics"]["gpu_peak_reserved"]["value"] == 8192.0
    assert synced["metrics"]["gpu_device_time"]["value"] == pytest.approx(1.5e-6)
    timing = synced["extra"]["gpu_timing"]
    assert timing["unsynchronized"] is False and timing["host_device_ratio"] == pytest.approx(2000 / 1500)
    assert len(timing["device_samples"]) == synced["rounds"]
    assert synced["extra"]["gpu"]["precision"] == "bf16" and synced["extra"]["gpu"]["name"] == "Fake GPU 9000"
    unsynced = ms["test_gpu.py::test_unsynced_marker_only"]
    assert unsynced["extra"]["gpu_timing"]["unsynchronized"] is True
    assert unsynced["extra"]["gpu"]["device"] == "cuda:1"
    plain = ms["test_gpu.py::test_plain_after"]
    assert "gpu_timing" not in plain["extra"] and "gpu_peak_allocated" not in plain["metrics"]
    assert data["environment"]["gpu"]["name"] == "Fake GPU 9000"
    result.stdout.fnmatch_lines(["*WARNING unsynchronized GPU timing*test_unsynced_marker_only*"])


def test_gpu_env_works_with_the_plugin_off(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makeconftest(FAKE_CUDA_CONFTEST)
    pytester.makepyfile(
        test_off="""
        import torch

        def test_off(gpu_env, causal_bench):
            gpu_env.configure(tf32=True)
            assert torch.backends.cuda.matmul.allow_tf32 is True
            assert causal_bench(lambda: 3) == 3

        def test_after():
            assert torch.backends.cuda.matmul.allow_tf32 is False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert not list(Path(pytester.path).glob("*.json"))


def test_inert_when_off_no_torch_import(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inert="""
        import os, sys

        def test_cpu(cpu_env, causal_bench):
            cpu_env.configure(threads=1, seed=1)
            assert os.environ["OMP_NUM_THREADS"] == "1"
            causal_bench(lambda: 1)
            assert "torch" not in sys.modules

        def test_after():
            assert "OMP_NUM_THREADS" not in os.environ
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "causal-eval:" not in result.stdout.str() and "WARNING" not in result.stdout.str()
