"""Without --causal-eval the plugin leaves no trace: no header, no files, no heavy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

HEAVY = ("torch", "memray", "pyinstrument", "scipy")


def test_no_header_no_files_no_heavy_imports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inert=f"""
        import sys

        def test_runs_workload_once(causal_bench):
            calls = []
            assert causal_bench(lambda x: calls.append(x) or x * 2, 21) == 42
            assert calls == [21]
            assert causal_bench.enabled is False

        def test_pedantic_and_named_run_once(causal_bench):
            calls = []
            causal_bench.pedantic(calls.append, setup=lambda: ((1,), {{}}), rounds=50, iterations=1)
            causal_bench.named("second")(calls.append, 2)
            causal_bench.record("accuracy", 0.9, better="higher")
            assert calls == [1, 2]

        def test_async_runs_once(causal_bench):
            calls = []

            async def work():
                calls.append(1)
                return "done"

            assert causal_bench.async_(work) == "done"
            assert calls == [1]

        def test_zz_heavy_modules_not_imported():
            loaded = [name for name in {HEAVY!r} if name in sys.modules]
            assert loaded == []
        """
    )
    before = sorted(p.name for p in pytester.path.iterdir())
    # A fresh interpreter, so sys.modules shows what a real run imports. pytest-benchmark (installed
    # beside us for comparisons) makes .benchmarks/ on every run: it is turned off here.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:benchmark",
            "-v",
            f"--basetemp={pytester.path.parent / 'basetemp'}",
        ],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "4 passed" in out
    assert "causal-eval 0.1.0:" not in out  # our header line (pytest's own plugin list may name us)
    assert "- causal-eval -" not in out
    after = sorted(p.name for p in pytester.path.iterdir() if p.name != "__pycache__")
    assert after == before


def test_enabled_run_prints_header_and_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(causal_bench):\n    causal_bench(sum, range(10))")
    result = pytester.runpytest("--causal-eval", "--causal-eval-max-time", "20ms", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["causal-eval 0.1.0: *", "*- causal-eval -*", "name *median*IQR*ops*rounds*"])
