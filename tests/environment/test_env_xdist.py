"""Under pytest-xdist: workers' measurements merged once, and the serial / pin / off timing modes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

pytest.importorskip("xdist")
pytest_plugins = ["pytester"]

ARGS = (
    "--causal-eval",
    "--causal-eval-warmup=off",
    "--causal-eval-max-time=5ms",
    "--causal-eval-health-sample=off",
    "-p",
    "no:cacheprovider",
)

SUITE = """
import os
import pytest

@pytest.mark.parametrize("n", range(6))
def test_timed(causal_bench, n):
    causal_bench(lambda: sum(range(50)))

@pytest.mark.parametrize("n", range(4))
def test_correctness(n):
    assert n * 2 == n + n

def test_named(causal_bench):
    causal_bench.named("a")(lambda: 1)
    causal_bench.named("b")(lambda: 2)
    causal_bench.record("accuracy", 0.5, better="higher")

def test_threads_seen_by_worker(causal_bench):
    causal_bench(lambda: None)
    print("THREADS", os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("OMP_NUM_THREADS"))
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_suite=SUITE)
    out = pytester.path / "merged.json"
    result = pytester.runpytest(*ARGS, "--causal-eval-json", str(out), *args)
    return result, json.loads(out.read_text()) if out.exists() else {}


def test_workers_measurements_are_merged_and_reported_once(pytester: pytest.Pytester) -> None:
    result, data = run(pytester, "-n", "2")
    result.assert_outcomes(passed=12)
    ids = sorted(m["id"] for m in data["measurements"])
    assert ids == sorted(
        [f"test_suite.py::test_timed[{n}]" for n in range(6)]
        + [
            "test_suite.py::test_named",
            "test_suite.py::test_named::a",
            "test_suite.py::test_named::b",
            "test_suite.py::test_threads_seen_by_worker",
        ]
    )
    assert all(m["extra"]["passed"] is True for m in data["measurements"])
    timed = [m for m in data["measurements"] if m["samples"]]
    assert len(timed) == 9
    assert {m["extra"]["cpu_env"]["xdist"]["mode"] for m in timed} == {"serial"}
    assert all("xdist_lock_wait" in m["extra"] for m in timed)
    text = result.stdout.str()
    assert text.count("results written to") == 1
    table_rows = [line for line in text.splitlines() if line.split(" ", 1)[0].endswith("test_timed[0]")]
    assert len(table_rows) == 1  # the controller prints the table once; workers print none
    assert data["environment"]["xdist"] == {"mode": "serial", "requested_mode": "serial", "workers": 2}
    result.stdout.fnmatch_lines(["*causal-eval xdist timing: serial (2 workers)*"])


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs 2 CPUs and affinity",
)
def test_pin_gives_workers_disjoint_cpus_and_sized_threads(pytester: pytest.Pytester) -> None:
    result, data = run(pytester, "-n", "2", "--causal-eval-xdist=pin")
    result.assert_outcomes(passed=12)
    by_worker: dict[str, set[str]] = {}
    timed = [m for m in data["measurements"] if m["samples"]]
    for m in timed:
        record = m["extra"]["cpu_env"]
        assert record["xdist"]["mode"] == "pin"
        assert record["state"]["affinity"] == record["xdist"]["cpus"]
        by_worker.setdefault(record["xdist"]["cpus"], set()).add(m["id"])
        assert "xdist_lock_wait" not in m["extra"]
    cpu_sets = [set(_expand(c)) for c in by_worker]
    for i, a in enumerate(cpu_sets):
        for b in cpu_sets[i + 1 :]:
            assert not a & b
    expected = str(len(os.sched_getaffinity(0)) // 2)
    assert len(by_worker) == 2
    env = [m["extra"]["cpu_env"]["state"]["env"] for m in timed]
    assert {e.get("OMP_NUM_THREADS") for e in env} == {expected}


def _expand(spec: str) -> list[int]:
    from pytest_causal_eval.environment.affinity import parse_cpu_list

    return list(parse_cpu_list(spec))


def test_pin_with_more_workers_than_cpus_warns_and_falls_back(pytester: pytest.Pytester) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cpus > 3:
        pytest.skip("needs a machine with at most 3 CPUs to oversubscribe cheaply")
    workers = cpus + 1
    result, data = run(pytester, "-n", str(workers), "--causal-eval-xdist=pin")
    result.assert_outcomes(passed=12)
    message = f"*xdist=pin: {workers} workers but only {cpus} CPU(s) available*falling back to serial*"
    result.stdout.fnmatch_lines([message])  # in the header and again in the summary
    assert data["environment"]["xdist"]["mode"] == "serial"
    assert all("xdist_lock_wait" in m["extra"] for m in data["measurements"] if m["samples"])


def test_off_mode_says_timings_ran_concurrently(pytester: pytest.Pytester) -> None:
    result, data = run(pytester, "-n", "2", "--causal-eval-xdist=off")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*WARNING timed sections ran concurrently in 2 xdist workers*"])
    assert len(data["measurements"]) == 10
    assert not any("xdist_lock_wait" in m["extra"] for m in data["measurements"])


def test_timing_lock_serializes_timed_sections(tmp_path: Any) -> None:
    """Two holders of the same lock file never overlap (the probe is what a worker uses)."""
    from filelock import FileLock

    from pytest_causal_eval.environment.xdist import TimingLockProbe, lock_path
    from pytest_causal_eval.results import Measurement

    path = lock_path("run-1", tmp_path)
    first, second = TimingLockProbe(FileLock(str(path))), TimingLockProbe(FileLock(str(path), timeout=0.05))
    m = Measurement(id="t", test_id="t")
    first.start()
    from filelock import Timeout

    with pytest.raises(Timeout):
        second.start()
    first.stop(m)
    second.start()
    second.stop(m)
    assert m.extra["xdist_lock_wait"] >= 0
