"""Pure pieces: CPU lists, pin plans, xdist modes, health verdicts, tuning hints, device choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_causal_eval.environment.affinity import format_cpu_list, parse_cpu_list
from pytest_causal_eval.environment.gpu import GpuEnvError, choose_device_index
from pytest_causal_eval.environment.health import BusyProcess, HealthSample, assess, quick_health
from pytest_causal_eval.environment.readings import read_cpu_tuning
from pytest_causal_eval.environment.settings import parse_health_sample
from pytest_causal_eval.environment.tuning import suggest_tuning
from pytest_causal_eval.environment.xdist import (
    lock_path,
    parse_xdist_mode,
    plan_pin,
)


def test_cpu_lists_round_trip_and_reject_junk() -> None:
    assert parse_cpu_list("0-2,5") == (0, 1, 2, 5)
    assert parse_cpu_list([3, 1]) == (1, 3)
    assert format_cpu_list((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"
    for bad in ("a", "3-1", [], [True], 2, "-1", [-1]):
        with pytest.raises(ValueError, match="CPU list"):
            parse_cpu_list(bad)


def test_pin_plan_splits_disjointly_and_falls_back_when_too_many_workers() -> None:
    plans = [plan_pin(range(8), 3, i) for i in range(3)]
    assert [p.cpus for p in plans] == [(0, 1, 2), (3, 4, 5), (6, 7)]
    assert [p.threads for p in plans] == [3, 3, 2]
    over = plan_pin([0, 1], 4, 3)
    assert over.cpus is None and over.fallback == "serial"
    assert over.message is not None and "4 workers but only 2 CPU(s)" in over.message
    assert "falling back to serial" in over.message
    with pytest.raises(ValueError):
        plan_pin([0, 1], 2, 2)


def test_xdist_mode_parsing_and_lock_path(tmp_path: Path) -> None:
    assert parse_xdist_mode(" PIN ") == "pin"
    with pytest.raises(ValueError, match="serial, pin, off"):
        parse_xdist_mode("fast")
    assert lock_path("ab/../c", tmp_path) == tmp_path / "causal-eval-timing-abc.lock"


def test_health_sample_option() -> None:
    assert parse_health_sample("off") == 0.0
    assert parse_health_sample("50ms") == pytest.approx(0.05)
    for bad in ("soon", "1min"):
        with pytest.raises(ValueError, match=r"off or a duration|at most"):
            parse_health_sample(bad)


def _sample(**kw: object) -> HealthSample:
    base: dict[str, object] = dict(
        cpus=2, load_avg=(0.5, 0.4, 0.3), memory_total=100, memory_available=80, swap_activity=0
    )
    base.update(kw)
    return HealthSample(**base)  # type: ignore[arg-type]


def test_quiet_machine_is_not_noisy() -> None:
    health = assess(_sample(busy_processes=[BusyProcess(1, "idle", 3.0)]))
    assert health["noisy"] is False and health["reasons"] == []
    assert health["load_avg_1m"] == 0.5 and health["busy_processes"] == []


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"load_avg": (3.5, 1.0, 1.0)}, "load average 3.50"),
        ({"busy_processes": [BusyProcess(7, "miner", 95.0)]}, "miner (pid 7, 95% of one CPU)"),
        ({"memory_available": 5}, "5% of memory"),
        ({"swap_activity": 10 << 20}, "swapping"),
    ],
)
def test_each_noise_source_is_named(kw: dict[str, object], reason: str) -> None:
    health = assess(_sample(**kw))
    assert health["noisy"] is True
    assert any(reason in r for r in health["reasons"]), health["reasons"]


def test_own_xdist_workers_do_not_count_as_load() -> None:
    assert assess(_sample(load_avg=(2.9, 1.0, 1.0), own_processes=2))["noisy"] is False
    assert assess(_sample(load_avg=(2.9, 1.0, 1.0), own_processes=1))["noisy"] is True


def test_quick_health_refreshes_load_and_keeps_session_busy_list() -> None:
    session = assess(_sample(load_avg=(4.0, 1, 1), busy_processes=[BusyProcess(7, "x", 50.0)]))
    quiet_now = quick_health(session, 0.8, cpus=2)
    assert quiet_now["noisy"] is True  # the busy process seen at the start still counts
    assert not any(r.startswith("load") for r in quiet_now["reasons"])
    assert quiet_now["busy_processes"][0]["name"] == "x"
    assert quick_health(None, 0.8, cpus=2) == {
        "noisy": False,
        "load_avg_1m": 0.8,
        "busy_processes": [],
        "reasons": [],
        "judged_by": "load average",  # no reading of the foreign load: the load average judged it
    }
    assert quick_health(None, 5.0, cpus=2)["noisy"] is True


def test_cpu_tuning_read_from_a_fake_sys_tree(tmp_path: Path) -> None:
    (tmp_path / "cpu0" / "cpufreq").mkdir(parents=True)
    (tmp_path / "cpu0" / "cpufreq" / "scaling_governor").write_text("powersave\n")
    (tmp_path / "cpu0" / "cpufreq" / "scaling_cur_freq").write_text("2400000\n")
    (tmp_path / "intel_pstate").mkdir()
    (tmp_path / "intel_pstate" / "no_turbo").write_text("0\n")
    (tmp_path / "isolated").write_text("\n")
    info = read_cpu_tuning(tmp_path)
    assert info == {
        "governor": "powersave",
        "turbo": True,
        "frequency_mhz": {"current": 2400.0},
        "isolated_cpus": None,
        "nohz_full": None,
    }
    assert read_cpu_tuning(tmp_path / "missing")["governor"] is None


def test_tuning_suggestions_follow_the_facts() -> None:
    health = assess(_sample(cpus=8, governor="powersave", busy_processes=[BusyProcess(9, "chrome", 80.0)]))
    health["turbo"] = True
    topics = [s.topic for s in suggest_tuning(health, cmdline="quiet")]
    assert topics == ["busy process", "CPU governor", "turbo boost", "isolated CPUs", "pinning"]
    isolated = suggest_tuning(dict(health, governor="performance", turbo=False, isolated_cpus="4-7"), "")
    assert [s.topic for s in isolated][-2:] == ["nohz_full", "pinning"]
    tuned = suggest_tuning(
        {"cpus": 8, "governor": "performance", "turbo": False, "isolated_cpus": "4-7", "nohz_full": "4-7"}
    )
    assert [s.topic for s in tuned] == ["pinning"]
    assert "isolcpus=4-7" in suggest_tuning({"cpus": 8, "governor": "performance"})[0].command


def test_device_choice_spreads_xdist_workers() -> None:
    assert choose_device_index(None, 4, None) == 0
    assert [choose_device_index("cuda", 2, w) for w in range(4)] == [0, 1, 0, 1]
    assert choose_device_index("cuda:1", 2, 0) == 1
    with pytest.raises(GpuEnvError, match="only 2 CUDA device"):
        choose_device_index("cuda:2", 2, None)
    with pytest.raises(GpuEnvError, match="'cuda' or 'cuda:N'"):
        choose_device_index("cpu", 2, None)
    with pytest.raises(GpuEnvError, match="no CUDA device"):
        choose_device_index(None, 0, None)


def test_quick_health_judges_the_cpu_by_the_measurement_s_own_reading() -> None:
    session = assess(
        _sample(load_avg=(4.0, 1, 1), busy_processes=[BusyProcess(7, "x", 50.0)], memory_available=5)
    )
    quiet = quick_health(session, 9.0, cpus=2, load={"foreign_share": 0.05, "cpus": 2})
    # the reading supersedes the start's load average and busy processes; the memory reason stays
    assert quiet["reasons"] == ["only 5% of memory available"]
    assert quiet["judged_by"] == "foreign share" and quiet["foreign_share"] == 0.05
    busy = quick_health(None, 0.1, cpus=2, load={"foreign_share": 0.3, "cpus": 2}, max_foreign_load=0.25)
    assert busy["noisy"] is True
    assert busy["reasons"] == ["other processes used 30% of 2 CPUs during the timed rounds (limit 25%)"]
    assert (
        quick_health(None, 0.1, cpus=2, load={"foreign_share": 0.3}, max_foreign_load=0.5)["noisy"] is False
    )
    unread = quick_health(None, 5.0, cpus=2, load={"unread": "no counters"})
    assert unread["judged_by"] == "load average" and unread["noisy"] is True
    assert "judged_by" not in quick_health(None, None, cpus=2)  # neither was read
