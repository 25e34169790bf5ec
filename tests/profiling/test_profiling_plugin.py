"""End to end through pytester: options, untimed passes, artifacts and index, limits, explain, fallback."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.profiling.memory import memray_unavailable

from .fake_timer_project import CONFTEST

FAST = (
    "-p",
    "no:cacheprovider",
    "--causal-eval-max-time=0.02",
    "--causal-eval-warmup=off",
    "--causal-eval-min-rounds=3",
)

WORK = """
import pytest

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def work():
    return spin(3000)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*FAST, *args)


def test_bad_profile_value_is_a_usage_error_naming_flag_and_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = run(pytester, "--causal-eval", "--causal-eval-profile=gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-profile: expected one of off, cpu, memory, all, got 'gpu'*"])
    result = run(pytester, "--causal-eval", "--causal-eval-profile-on-regression=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-profile-on-regression: expected true or false*"])


def test_unwritable_report_dir_is_a_usage_error_at_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    blocker = pytester.path / "blocker"
    blocker.write_text("a file, not a directory")
    result = run(pytester, "--causal-eval", "--causal-eval-profile=cpu", f"--causal-eval-report={blocker}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-report*exists and is not a directory*"])
    result = run(
        pytester, "--causal-eval", "--causal-eval-profile=cpu", f"--causal-eval-report={blocker}/sub"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--causal-eval-report*not writable*"])


def _forbid_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a profiling pass ran")

    import pytest_causal_eval.profiling.cpu as cpu
    import pytest_causal_eval.profiling.leak as leak
    import pytest_causal_eval.profiling.memory as memory

    for module, name in (
        (cpu, "profile_cpu"),
        (cpu, "cpu_steps"),
        (memory, "profile_memory"),
        (memory, "memory_steps"),
        (leak, "check_leak"),
        (leak, "leak_steps"),
    ):
        monkeypatch.setattr(module, name, forbidden)


def test_inert_when_profiling_is_off_or_the_plugin_is_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forbid_passes(monkeypatch)
    pytester.makepyfile(WORK + "\ndef test_w(causal_bench):\n    causal_bench(work)\n")
    run(pytester, "--causal-eval").assert_outcomes(passed=1)
    assert not (pytester.path / ".causal-eval" / "report" / "profiles").exists()
    shutil.rmtree(pytester.path / ".causal-eval")  # the HTML report, written by default
    # profiling requested in the ini file, but the plugin is off: nothing runs either
    pytester.makeini("[pytest]\ncausal_eval_profile = all\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "causal-eval profiling" not in result.stdout.str()
    assert not (pytester.path / ".causal-eval" / "report").exists()


CONFTEST_PHASES = """
import json, sys, threading, tracemalloc
import pytest

STATE = {"phase": "measure", "timer_calls": 0}
RECORDS = []

class FakeTimer:
    # each reading advances 1 ns, each workload call 1 ms: a round of n calls takes n ms
    now = 0
    def wall_ns(self):
        STATE["timer_calls"] += 1
        FakeTimer.now += 1
        return FakeTimer.now
    def cpu_ns(self):
        return FakeTimer.now
    def resolution_ns(self):
        return 1.0

def pytest_causal_eval_timer(config):
    return FakeTimer()

@pytest.hookimpl(tryfirst=True)
def pytest_causal_eval_after_measure(item, measurement, workload):
    STATE["phase"] = "profile"
    STATE["timer_at_profile"] = STATE["timer_calls"]

def memray_active():
    # memray's Tracker installs its thread hook while it records
    return "start_thread_trace" in repr(getattr(threading, "_profile_hook", None))

def record():
    FakeTimer.now += 1_000_000
    RECORDS.append({
        "phase": STATE["phase"],
        "timer_calls": STATE["timer_calls"],
        "profiler": sys.getprofile() is not None,
        "tracemalloc": tracemalloc.is_tracing(),
        "memray": memray_active(),
    })

def pytest_sessionfinish(session):
    with open("records.json", "w") as fh:
        json.dump({"records": RECORDS, "timer_at_profile": STATE.get("timer_at_profile")}, fh)
"""


def test_timed_rounds_run_with_no_profiler_active(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST_PHASES)
    pytester.makepyfile(
        """
        from conftest import record

        def test_w(causal_bench):
            causal_bench(record)
        """
    )
    result = run(
        pytester,
        "--causal-eval",
        "--causal-eval-profile=all",
        "--causal-eval-max-rounds=3",
        "--causal-eval-json=out.json",
    )
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "records.json").read_text())
    measured = [r for r in data["records"] if r["phase"] == "measure"]
    profiled = [r for r in data["records"] if r["phase"] == "profile"]
    assert measured and profiled
    # every call the runner timed (or calibrated with) saw no profiler, no tracemalloc, no memray
    assert not any(r["profiler"] or r["tracemalloc"] or r["memray"] for r in measured)
    # ... and they happened between timer reads, while the profiling pass never reads the timer
    assert measured[-1]["timer_calls"] > measured[0]["timer_calls"]
    assert {r["timer_calls"] for r in profiled} == {data["timer_at_profile"]}
    # the profiling pass really profiled: pyinstrument, memray and the tracemalloc leak check each saw calls
    assert any(r["profiler"] for r in profiled)
    if memray_unavailable() is None:
        assert any(r["memray"] for r in profiled)
    assert any(r["tracemalloc"] for r in profiled)
    results = json.loads((pytester.path / "out.json").read_text())
    (m,) = results["measurements"]
    assert len(m["samples"]) == 3  # the fake timer made the schedule exact
    assert {"mem_peak", "leak_per_iter"} <= set(m["metrics"])


def test_cpu_profile_writes_artifacts_hotspots_and_an_index_with_safe_names(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        WORK
        + """
@pytest.mark.parametrize("p", ["a/b", "../up dir", "\u00e9t\u00e9"])
def test_w(causal_bench, p):
    causal_bench(work)
"""
    )
    result = run(pytester, "--causal-eval", "--causal-eval-profile=cpu", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["causal-eval profiling: cpu (pyinstrument)*", "*6 profile artifact(s) in *"])
    profiles = pytester.path / ".causal-eval" / "report" / "profiles"
    files = sorted(p.name for p in profiles.iterdir())
    assert len(files) == 7 and "index.json" in files
    for name in files:
        assert name.isascii() and " " not in name and ".." not in name
    results = json.loads((pytester.path / "out.json").read_text())
    index = json.loads((profiles / "index.json").read_text())
    ids = {m["id"] for m in results["measurements"]}
    assert set(index["files"].values()) == ids
    assert set(index["files"]) == set(files) - {"index.json"}
    for m in results["measurements"]:
        # A sampling profiler on a loaded machine may rank the caller first: spin must be near the top.
        top = next(h for h in m["extra"]["hotspots"][:3] if h["function"] == "spin")
        assert top["file"] == "test_cpu_profile_writes_artifacts_hotspots_and_an_index_with_safe_names.py"
        assert 0 < top["self"] <= 1 and 0 < top["total"] <= 1
        arts = m["extra"]["profile_artifacts"]
        assert set(arts) == {"cpu_html", "speedscope"}
        assert (pytester.path / arts["cpu_html"]).is_file()
        assert index["measurements"][m["id"]]["speedscope"] == Path(arts["speedscope"]).name
        assert "mem_peak" not in m["metrics"]


def test_memory_limit_fails_with_the_top_sites(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def big():
            return [bytearray(1024) for _ in range(2048)]

        @pytest.mark.causal_eval(memory_limit="512 KB")
        def test_over(causal_bench):
            causal_bench(big)

        @pytest.mark.causal_eval(memory_limit="64 MB")
        def test_under(causal_bench):
            causal_bench(big)

        @pytest.mark.causal_eval(memory_limit="plenty")
        def test_bad_value(causal_bench):
            causal_bench(big)
        """
    )
    result = run(pytester, "--causal-eval")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a bad value stops the run at collection
    result.stderr.fnmatch_lines(
        ["*::test_bad_value: @pytest.mark.causal_eval(memory_limit=...): expected a size*"]
    )
    result = run(pytester, "--causal-eval", "-k", "not bad_value")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "test_over: peak memory" in text and "exceeds memory_limit 512 KiB" in text
    assert "\n    test_memory_limit_fails_with_the_top_sites.py:4 " in text  # the allocating line
    assert "During handling" not in text
    assert "Traceback" not in text
    # a limit implies the memory pass even with profiling off, and no CPU profile
    assert not list((pytester.path / ".causal-eval" / "report" / "profiles").glob("*.cpu.html"))


def test_leak_limit_fails_a_leaking_workload_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        KEPT = [None]

        def leaky():  # a chain, not a list: no resize step makes one call look like more
            KEPT[0] = (bytes(5000), KEPT[0])

        def clean():
            return [bytes(5000) for _ in range(10)]

        @pytest.mark.causal_eval(leak_limit="1 KB/iter")
        def test_leaky(causal_bench):
            causal_bench(leaky)

        @pytest.mark.causal_eval(leak_limit="1 KB/iter")
        def test_clean(causal_bench):
            causal_bench(clean)
        """
    )
    result = run(pytester, "--causal-eval", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_leaky: retains 4.* KiB per call*above leak_limit 1.00 KiB/iter*",
            "*test_leak_limit_fails_a_leaking_workload_only.py:5 KEPT[[]0] = (bytes(5000), KEPT[[]0])*",
        ]
    )
    results = json.loads((pytester.path / "out.json").read_text())
    by_id = {m["id"].split("::")[-1]: m for m in results["measurements"]}
    assert by_id["test_leaky"]["metrics"]["leak_per_iter"]["value"] > 4000
    assert abs(by_id["test_clean"]["metrics"]["leak_per_iter"]["value"]) < 256
    assert "mem_peak" not in by_id["test_clean"]["metrics"]  # only the leak check was asked for


def test_memray_unavailable_falls_back_to_tracemalloc_and_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "memray", None)
    pytester.makepyfile(WORK + "\ndef test_w(causal_bench):\n    causal_bench(work)\n")
    result = run(pytester, "--causal-eval", "--causal-eval-profile=memory", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "causal-eval profiling: memory (tracemalloc: memray is not installed*",
            "warning: memray is not installed*; memory profiled with tracemalloc instead",
        ]
    )
    (m,) = json.loads((pytester.path / "out.json").read_text())["measurements"]
    assert m["extra"]["memory"]["backend"] == "tracemalloc"
    assert "alloc_count" not in m["metrics"] and "mem_peak" in m["metrics"]


CONFTEST_EXPLAIN = """
import pytest
from pytest_causal_eval.results import Measurement
from pytest_causal_eval.plugin import SESSION_KEY

BASE_EXTRA = {
    "hotspots": [{"function": "spin", "file": "test_explain.py", "line": 3, "self": 0.05, "total": 0.06}],
    "memory": {"backend": "memray", "peak": 100, "sites": [
        {"function": "big", "file": "test_explain.py", "line": 13, "size": 1000, "count": 1}]},
}

def pytest_causal_eval_judge(item, measurement):
    metric = item.get_closest_marker("regress").args[0]
    measurement.extra["verdict"] = {"verdict": "regressed", "metric": metric}
    store = item.config.stash[SESSION_KEY].stores[item.nodeid]
    workload = store.workloads.get(measurement.name)
    base = Measurement(id=measurement.id, test_id=measurement.test_id, extra=dict(BASE_EXTRA))
    lines = []
    for result in item.config.hook.pytest_causal_eval_explain(
        item=item, measurement=measurement, baseline=base, workload=workload, metric=metric
    ):
        lines.extend(result or [])
    return ["EXPLAIN " + measurement.id, *lines]

def pytest_configure(config):
    config.addinivalue_line("markers", "regress(metric): test helper")
"""

EXPLAIN_TESTS = """
import pytest

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def work():
    return spin(3000)

def big():
    return bytearray(300_000)

@pytest.mark.regress("time")
def test_time(causal_bench):
    causal_bench(work)

@pytest.mark.regress("mem_peak")
def test_memory(causal_bench):
    causal_bench(big)
"""


def test_explain_profiles_the_regressed_workload_and_diffs_against_the_baseline(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST_EXPLAIN)
    pytester.makepyfile(test_explain=EXPLAIN_TESTS)
    result = run(pytester, "--causal-eval", "--causal-eval-json=out.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "EXPLAIN test_explain.py::test_memory",
            "allocation sites that changed against the baseline:",
            "  test_explain.py:13 big  1000 B -> 293 KiB (+292 KiB; 1 -> * allocations)",
            "profiles:",
            "  memory_flamegraph: .causal-eval/report/profiles/test_explain.py_test_memory-*.memory.html",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "EXPLAIN test_explain.py::test_time",
            "hotspot changes against the baseline (share of profiled time):",
            "  test_explain.py:3 spin  5.0% -> *% (+* pts self; total 6.0% -> *)",
            "profiles:",
            "  cpu_html: .causal-eval/report/profiles/test_explain.py_test_time-*.cpu.html",
            "  speedscope: .causal-eval/report/profiles/test_explain.py_test_time-*.speedscope.json",
        ]
    )
    results = json.loads((pytester.path / "out.json").read_text())
    for m in results["measurements"]:  # the regression-time profile lands in the results too
        assert ("hotspots" in m["extra"]) == m["id"].endswith("test_time")
    index = json.loads((pytester.path / ".causal-eval/report/profiles/index.json").read_text())
    assert len(index["files"]) == 3


def test_explain_without_profile_on_regression_points_at_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST_EXPLAIN)
    pytester.makepyfile(test_explain=EXPLAIN_TESTS)
    result = run(pytester, "--causal-eval", "--causal-eval-profile-on-regression=no")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["no CPU profile (run with --causal-eval-profile=cpu to see the hotspots)"])
    result.stdout.fnmatch_lines(["no memory profile (run with --causal-eval-profile=memory*"])
    assert not (pytester.path / ".causal-eval" / "report" / "profiles").exists()  # no profile written


def test_torch_trace_is_written_when_cuda_is_reported(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_configure(config):
            plugin = config.pluginmanager.get_plugin("causal_eval_profiling")
            plugin.torch_activities = lambda: ("cpu",)  # what a CUDA machine gets, minus the GPU
        """
    )
    pytester.makepyfile(
        """
        import torch

        def test_mm(causal_bench):
            a = torch.ones(32, 32)
            causal_bench(lambda: a @ a)
        """
    )
    result = run(pytester, "--causal-eval", "--causal-eval-profile=cpu", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=1)
    (m,) = json.loads((pytester.path / "out.json").read_text())["measurements"]
    trace = pytester.path / m["extra"]["profile_artifacts"]["torch_trace"]
    assert trace.name.endswith(".torch-trace.json")
    assert "traceEvents" in json.loads(trace.read_text())


GATE_TESTS = """
import os
from conftest import FakeTimer

CALLS = [0]

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def added_work(n):
    total = 0
    for i in range(n):
        total -= i * i
    return total

def work():
    CALLS[0] += 1
    cost = int(os.environ["COST_US"])
    FakeTimer.now += cost * 1000 + (CALLS[0] % 7) * 10_000
    if cost > 1000:  # the slower revision really does more, so the profiles differ
        added_work(4000)
    return spin(2000)

def test_gate(causal_bench):
    causal_bench(work)
"""


def test_real_gate_regression_carries_the_hotspot_diff(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=GATE_TESTS)
    args = (
        "--causal-eval",
        "--causal-eval-profile=cpu",
        "--causal-eval-max-rounds=30",
        "--causal-eval-min-rounds=30",
        # the clock is fake, the workload real: the machine's real load must not make it inconclusive
        "--causal-eval-max-foreign-load=off",
    )
    monkeypatch.setenv("COST_US", "1000")
    saved = run(pytester, *args, "--causal-eval-save")
    saved.assert_outcomes(passed=1)
    saved.stdout.fnmatch_lines(
        ["note: kept 2 profile(s) of this baseline in .causal-eval/report/profiles/baseline/*"]
    )
    monkeypatch.setenv("COST_US", "3000")
    result = run(pytester, *args, "--causal-eval-markdown=verdicts.md")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "regressed" in text
    # The diff itself is checked exactly in the pure tests; a sampling profiler on a loaded CI machine
    # may catch few of spin's frames, so here only its presence and the artifacts are required.
    header = (
        "hotspot changes against the baseline (biggest contribution to the change in time per call first):"
    )
    assert header in text
    assert " added_work  +" in text
    assert "cpu_html: .causal-eval/report/profiles/test_gate.py_test_gate-" in text
    # the why, in the HTML report and the Markdown, with this run's and the baseline's profile linked
    html = (pytester.path / ".causal-eval" / "report" / "index.html").read_text()
    assert header in html and "added_work" in html.split('<pre class="why">')[1]
    assert 'href="profiles/test_gate.py_test_gate-' in html
    assert 'href="profiles/baseline/' in html and ">CPU profile (pyinstrument)</a>, baseline<" in html
    markdown = (pytester.path / "verdicts.md").read_text()
    assert "<summary>why: test_gate.py::test_gate</summary>" in markdown and header in markdown
    assert ".causal-eval/report/profiles" not in markdown  # a local path means nothing in a PR comment


def test_a_workload_failing_in_the_profiling_pass_is_reported_not_hidden(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys
        import pytest

        def picky():
            if sys.getprofile() is not None:
                raise RuntimeError("refuses to be profiled")

        def test_p(causal_bench):
            causal_bench(picky)

        @pytest.mark.causal_eval(memory_limit="1 GB")
        def test_limit_unchecked(causal_bench):
            causal_bench(lambda: [1] * 10)
        """
    )
    result = run(pytester, "--causal-eval", "--causal-eval-profile=cpu", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=2)  # the timed numbers stand; the profile's absence is said out loud
    result.stdout.fnmatch_lines(
        ["warning: *test_p: CPU profiling pass failed: RuntimeError: refuses to be profiled"]
    )


def test_xdist_workers_profiles_are_indexed_by_the_controller(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        WORK
        + "\n@pytest.mark.parametrize('i', range(2))\ndef test_w(causal_bench, i):\n    causal_bench(work)\n"
    )
    result = pytester.runpytest_subprocess(
        *FAST, "-n", "2", "--causal-eval", "--causal-eval-profile=cpu", "--causal-eval-json=out.json"
    )
    result.assert_outcomes(passed=2)
    index = json.loads((pytester.path / ".causal-eval/report/profiles/index.json").read_text())
    results = json.loads((pytester.path / "out.json").read_text())
    assert set(index["measurements"]) == {m["id"] for m in results["measurements"]}
    assert len(index["files"]) == 4
    assert results["extra"]["profile_index"] == ".causal-eval/report/profiles/index.json"


def test_a_lazy_package_whose_imports_fail_does_not_break_the_start(pytester: pytest.Pytester) -> None:
    """Like transformers without torch: any unknown attribute of the package imports a submodule,
    and that import fails. Looking for the package's directory must not touch such attributes."""
    pytester.makeconftest(
        """
        import sys
        import types

        def _import_on_demand(name):
            raise ModuleNotFoundError("No module named 'torch'")

        for name in ("lazy_without_torch", "lazy_without_torch.models"):
            module = types.ModuleType(name)
            module.__getattr__ = _import_on_demand
            sys.modules[name] = module
        sys.modules["blocked_import"] = None  # how a test blocks an optional dependency
        """
    )
    pytester.makepyfile(WORK + "\ndef test_w(causal_bench):\n    causal_bench(work)\n")
    result = run(pytester, "--causal-eval")
    result.assert_outcomes(passed=1)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


NOISY_THREAD_CONFTEST = """
import threading

import pytest

HELD = []


class Monitor(threading.Thread):
    # a progress bar's monitor left running by an earlier test: it allocates and keeps on its own
    def __init__(self):
        super().__init__(name="monitor", daemon=True)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.001):
            HELD.append(bytearray(2000))


@pytest.fixture(scope="session", autouse=True)
def monitor():
    thread = Monitor()
    thread.start()
    yield thread
    thread.stop.set()
    thread.join()
"""


def test_leak_fit_counts_only_the_workload_thread(pytester: pytest.Pytester) -> None:
    """Another thread that keeps allocating during the leak check is neither the clean workload's
    leak nor part of the leaky one's; the result says what the other threads kept."""
    pytester.makeconftest(NOISY_THREAD_CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        KEPT = [None]

        def leaky():  # a chain, not a list: no resize step makes one call look like more
            KEPT[0] = (bytes(5000), KEPT[0])

        def clean():
            return [bytes(5000) for _ in range(10)]

        @pytest.mark.causal_eval(leak_limit="1 KB/iter")
        def test_leaky(causal_bench):
            causal_bench(leaky)

        @pytest.mark.causal_eval(leak_limit="1 KB/iter")
        def test_clean(causal_bench):
            causal_bench(clean)
        """
    )
    result = run(pytester, "--causal-eval", "--causal-eval-json=out.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_leaky: retains 4.97 KiB per call*above leak_limit 1.00 KiB/iter*",
            "*note: other threads retained * B per call during the check, not counted as the workload's: "
            "monitor (conftest.Monitor)*",
        ]
    )
    results = json.loads((pytester.path / "out.json").read_text())
    by_id = {m["id"].split("::")[-1]: m for m in results["measurements"]}
    leaky, clean = (by_id[name]["extra"]["memory"]["leak"] for name in ("test_leaky", "test_clean"))
    assert 5000 <= leaky["per_iter"] < 5200  # bytes(5000) and its tuple, not the monitor's blocks
    assert abs(clean["per_iter"]) < 256
    assert clean["other_threads_per_iter"] > 500 and "monitor (conftest.Monitor)" in clean["other_threads"]
    assert all(site["line"] != 0 for site in leaky["sites"])
    assert "bytearray" not in json.dumps(leaky["sites"])  # the monitor's line is not a site that grew
