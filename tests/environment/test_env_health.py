"""The start-of-run health check against a fake psutil: what it samples, and the CPU shares it reports."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_causal_eval.environment import readings

from .envfakes import FAKE_PSUTIL_SOURCE

ON = ("--causal-eval", "--causal-eval-warmup=off", "--causal-eval-max-time=5ms", "-p", "no:cacheprovider")


@pytest.fixture
def fake_psutil(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fake as the module ``psutil``, and its clock as the health check's ``time``."""
    namespace: dict[str, Any] = {}
    exec(FAKE_PSUTIL_SOURCE, namespace)
    fake = namespace["FakePsutil"](cpus=2)
    monkeypatch.setitem(sys.modules, "psutil", fake)
    monkeypatch.setattr(
        readings, "time", SimpleNamespace(perf_counter=fake.time.perf_counter, sleep=fake.time.sleep)
    )
    monkeypatch.setattr(readings, "cpu_tick_seconds", lambda: 0.01, raising=False)
    monkeypatch.setattr(readings, "load_average", lambda: (0.2, 0.2, 0.2))  # this machine's is not quiet
    return fake


def shares(health: dict[str, Any]) -> dict[str, float]:
    return {p["name"]: p["cpu_percent"] for p in health["busy_processes"]}


def test_sample_off_reads_the_facts_and_watches_no_process(fake_psutil: Any) -> None:
    # a light process whose CPU counter is about to tick: what made the old zero-length sample say 1000%
    fake_psutil.add(4242, "python", cores=0.05, cpu_at_start=0.00996)
    health = readings.check_health(0.0)
    assert fake_psutil.iterations == 0 and fake_psutil.time.sleeps == []
    assert health["busy_processes"] == [] and health["noisy"] is False
    assert health["processes_sampled"] is False and health["sample_seconds"] == 0.0
    assert health["memory_total"] == 16 << 30  # the instant facts are still there


def test_one_tick_in_a_short_sample_is_not_a_busy_process(fake_psutil: Any) -> None:
    for pid in range(10, 20):  # idle daemons whose counters each tick once during the sample
        fake_psutil.add(pid, f"daemon{pid}", cores=0.05, cpu_at_start=0.01 - 0.0001 * (pid - 9))
    health = readings.check_health(0.02)
    assert fake_psutil.time.sleeps == [0.02]
    assert health["busy_processes"] == [] and health["noisy"] is False, health["reasons"]


def test_cpu_shares_are_what_the_process_used_and_never_more_than_the_machine(fake_psutil: Any) -> None:
    fake_psutil.add(100, "spinner", cores=1.0)
    fake_psutil.add(101, "half", cores=0.5)
    fake_psutil.add(102, "impossible", cores=8.0)  # a counter gone wrong: 8 CPUs' worth on a 2-CPU machine
    health = readings.check_health(0.2)
    share = shares(health)
    assert 90.0 <= share["spinner"] <= 100.0
    assert 40.0 <= share["half"] <= 50.0
    assert share["impossible"] == 200.0  # all of both CPUs, not 800%
    assert all(0.0 < p <= 200.0 for p in share.values())
    assert health["noisy"] is True
    (reason,) = health["reasons"]
    assert reason.startswith("busy processes: impossible (pid 102, 200% of one CPU), spinner (pid 100, ")


def test_busy_processes_uses_each_process_own_interval(fake_psutil: Any) -> None:
    """Reading many processes takes time: each share is over the time between its own two readings."""
    for pid in range(200, 260):
        fake_psutil.add(pid, f"p{pid}", cores=1.0 if pid == 200 else 0.0)
    found = readings.busy_processes(
        fake_psutil, 0.05, 2, clock=fake_psutil.time.perf_counter, sleep=fake_psutil.time.sleep, tick=0.01
    )
    assert [p.name for p in found] == ["p200"]
    assert 75.0 <= found[0].cpu_percent <= 100.0


BUSY_CONFTEST = (
    FAKE_PSUTIL_SOURCE
    + """
import psutil

FAKE = FakePsutil(cpus=2)
FAKE.add(4242, "ghost", cores=0.05, cpu_at_start=0.00996)


def _process_iter(attrs=None):
    return FAKE.process_iter(attrs)


def pytest_configure(config):
    config._original_process_iter = psutil.process_iter
    psutil.process_iter = _process_iter


def pytest_unconfigure(config):
    psutil.process_iter = config._original_process_iter
"""
)


def test_health_sample_off_skips_the_process_sample_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BUSY_CONFTEST)
    pytester.makepyfile(test_h="def test_h(causal_bench):\n    causal_bench(lambda: 1)\n")
    out = pytester.path / "r.json"
    result = pytester.runpytest(*ON, "--causal-eval-health-sample=off", "--causal-eval-json", str(out))
    result.assert_outcomes(passed=1)
    assert "busy processes:" not in result.stdout.str() and "ghost" not in result.stdout.str()
    health = json.loads(out.read_text())["environment"]["health"]
    assert health["processes_sampled"] is False and health["busy_processes"] == []
    assert health["sample_seconds"] == 0.0


OWN_IDS_SCRIPT = """
import json, subprocess, sys, time
import psutil
from pytest_causal_eval.environment.readings import own_process_ids
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
try:
    print(json.dumps(sorted(own_process_ids(psutil))))
finally:
    child.kill()
    child.wait()
"""


def test_a_process_started_from_the_same_shell_is_not_ours(tmp_path: Any) -> None:
    """A busy sibling (started by pytest's parent, as `spin & pytest` from one shell does) is foreign;
    this process and what it started are ours. Structure only: real processes, no timing."""
    import subprocess

    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        out = subprocess.run(
            [sys.executable, "-c", OWN_IDS_SCRIPT], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    finally:
        sibling.kill()
        sibling.wait()
    own = set(json.loads(out))
    assert sibling.pid not in own
    assert len(own) == 2  # the session's process and its child (the sleeper it started)


def test_an_xdist_worker_counts_the_controller_and_the_other_workers_as_its_own(fake_psutil: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(FAKE_PSUTIL_SOURCE, namespace)
    controller = namespace["FakeProcess"](fake_psutil, 50, "pytest", 0.0)
    worker2 = namespace["FakeProcess"](fake_psutil, 52, "python", 1.0)
    controller.children = lambda recursive=False: [fake_psutil.me, worker2]
    shell_sibling = 49
    fake_psutil.Process = lambda pid=None: fake_psutil.me if pid is None else {50: controller}[pid]
    assert readings.own_process_ids(fake_psutil, root_pid=50) == {1, 50, 52}
    assert shell_sibling not in readings.own_process_ids(fake_psutil, root_pid=50)
