"""The environment feature's plugin object: health, xdist timing modes, probes, CUDA timing, records.

Registered by ``environment.feature.configure`` only when ``--causal-eval`` is on.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_causal_eval.environment.cpu import CPU_ENV_KEY, CPU_MARKER_KEYS, current_cpu_state
from pytest_causal_eval.environment.gpu import GPU_ENV_KEY, GPU_MARKER_KEYS
from pytest_causal_eval.environment.keys import CUDA_TIMER_KEY
from pytest_causal_eval.environment.settings import EnvironmentSettings
from pytest_causal_eval.environment.xdist import (
    PinPlan,
    TimingLockProbe,
    lock_path,
    plan_pin,
)
from pytest_causal_eval.extra_keys import GPU, HEALTH, JUDGED_BY_FOREIGN_SHARE, JUDGED_BY_LOAD_AVERAGE
from pytest_causal_eval.markers import ITEM_TIMER_KEY
from pytest_causal_eval.measure.load import DEFAULT_MAX_FOREIGN_LOAD, unread_reason
from pytest_causal_eval.results import Measurement, Metric

if TYPE_CHECKING:
    from pytest_causal_eval.measure.load import LoadSampler
    from pytest_causal_eval.measure.probes import Probe
    from pytest_causal_eval.session import CausalEvalSession

__all__ = ["HEALTH_INPUT_KEY", "ROOT_PID_INPUT_KEY", "EnvironmentPlugin"]

HEALTH_INPUT_KEY = "causal_eval_health"
ROOT_PID_INPUT_KEY = "causal_eval_root_pid"  # the xdist controller's pid, handed to each worker


class EnvironmentPlugin:
    """Hooks and probes of the environment feature for one enabled run."""

    def __init__(self, config: pytest.Config, session: CausalEvalSession) -> None:
        self.config = config
        self.session = session
        settings = EnvironmentSettings.of(session.settings)
        self.mode = settings.xdist
        # the gate's foreign-load limit also judges each measurement's health (the default when off)
        self.max_foreign_load = (
            settings.max_foreign_load if settings.max_foreign_load is not None else DEFAULT_MAX_FOREIGN_LOAD
        )
        self.health_interval = settings.health_sample
        self.workerinput: dict[str, Any] = dict(getattr(config, "workerinput", {}) or {})
        identity = session.workers
        self.is_worker = identity.is_worker
        self.workers = identity.count
        self.worker_index = identity.index or 0
        self.testrunuid = identity.testrunuid or "run"
        self.effective_mode = self.mode if self.workers > 1 else "off"
        self.pin: PinPlan | None = None
        self.lock: Any = None
        self.health: dict[str, Any] | None = None
        self.gpu_environment: dict[str, Any] | None = None
        self.notes: list[str] = []
        # reads other processes' CPU use during the timed rounds; set on first use (the
        # pytest_causal_eval_load_sampler hook, else the system's counters), None when off
        self.load_sampler: LoadSampler | None = None
        self._load_sampler_ready = False
        self._system_sampler: LoadSampler | None = None
        self._system_sampler_failed = False

    # -- setup -------------------------------------------------------------------------------------
    def setup(self) -> None:
        from pytest_causal_eval.environment.affinity import available_cpus

        if self.workers > 1 and self.mode == "pin":
            self.pin = plan_pin(available_cpus(), self.workers, self.worker_index)
            if self.pin.fallback is not None:
                self.effective_mode = self.pin.fallback
                if self.pin.message:
                    self.notes.append(self.pin.message)
            elif self.is_worker and self.pin.cpus is not None:
                self._apply_pin(self.pin)
        if self.workers > 1 and self.effective_mode == "off":
            self.notes.append(
                f"timed sections ran concurrently in {self.workers} xdist workers (--causal-eval-xdist=off): "
                "medians may be shifted; use serial or pin for timings you compare"
            )
        if self.is_worker and self.effective_mode == "serial":
            from filelock import FileLock

            self.lock = FileLock(str(lock_path(self.testrunuid)))
        for factory in (self._lock_probe, self._io_probe, self._cpu_probe, self._gpu_probe, self._load_probe):
            self.session.add_probe(factory)

    @staticmethod
    def _apply_pin(plan: PinPlan) -> None:
        from pytest_causal_eval.environment.affinity import affinity_supported, set_affinity
        from pytest_causal_eval.environment.threads import apply_threads

        if plan.cpus is not None and affinity_supported():
            set_affinity(plan.cpus)
        apply_threads(plan.threads)

    # -- probes ------------------------------------------------------------------------------------
    def _lock_probe(self, item: pytest.Item, measurement: Measurement) -> Probe | None:
        return TimingLockProbe(self.lock) if self.lock is not None else None

    def _io_probe(self, item: pytest.Item, measurement: Measurement) -> Probe | None:
        from pytest_causal_eval.measure.io import IOProbe

        return IOProbe()

    def _cpu_probe(self, item: pytest.Item, measurement: Measurement) -> Probe | None:
        return _CpuEnvProbe(item, self._xdist_record())

    def _gpu_probe(self, item: pytest.Item, measurement: Measurement) -> Probe | None:
        env = item.stash.get(GPU_ENV_KEY, None)
        if env is None:
            return None
        return _GpuProbe(env, item.stash.get(CUDA_TIMER_KEY, None))

    def _load_probe(self, item: pytest.Item, measurement: Measurement) -> Probe | None:
        if self.session.counts_instructions:
            return None  # nothing is timed: a count does not depend on the machine's load
        sampler = self._sampler()
        return _LoadProbe(sampler) if sampler is not None else None

    def _sampler(self) -> LoadSampler | None:
        if not self._load_sampler_ready:
            self._load_sampler_ready = True
            self.load_sampler = self.config.hook.pytest_causal_eval_load_sampler(config=self.config)
        return self.load_sampler

    @pytest.hookimpl(trylast=True)
    def pytest_causal_eval_load_sampler(self, config: pytest.Config) -> LoadSampler | None:
        """The system's counters, when no conftest or plugin gave a sampler (also for the gate's
        re-measuring passes, which ask the hook)."""
        if self._system_sampler is None and not self._system_sampler_failed:
            from pytest_causal_eval.environment.load import CpuTimesSampler

            root = self.workerinput.get(ROOT_PID_INPUT_KEY)
            try:
                self._system_sampler = CpuTimesSampler(root_pid=int(root) if root else None)
            except Exception as exc:  # no psutil support on this platform: say so once
                self._system_sampler_failed = True
                self.notes.append(f"foreign CPU load is not sampled during measurements ({exc})")
        return self._system_sampler

    def _xdist_record(self) -> dict[str, Any] | None:
        if self.workers <= 1:
            return None
        record: dict[str, Any] = {"mode": self.effective_mode, "workers": self.workers}
        if self.pin is not None and self.pin.cpus is not None:
            from pytest_causal_eval.environment.affinity import format_cpu_list

            record["cpus"] = format_cpu_list(self.pin.cpus)
        return record

    # -- health ------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        raw = self.workerinput.get(HEALTH_INPUT_KEY)
        if raw:
            self.health = json.loads(raw)
            return
        if self.session.counts_instructions:
            return  # instruction counts do not depend on the machine's load: nothing to warn about
        from pytest_causal_eval.environment.readings import check_health

        self.health = check_health(self.health_interval, own_processes=max(1, self.workers))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: hand the session's health sample to each worker (sampled once), and
        its own pid (the workers and the controller are this session's processes, not foreign)."""
        if self.health is not None:
            node.workerinput[HEALTH_INPUT_KEY] = json.dumps(self.health)
        node.workerinput[ROOT_PID_INPUT_KEY] = os.getpid()

    # -- per test ----------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)  # after the fixtures: a device marker sees what they set up
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from pytest_causal_eval.markers import item_markers

        kwargs = item_markers(item).values
        names = set(getattr(item, "fixturenames", ()))
        cpu_keys = sorted(set(kwargs) & set(CPU_MARKER_KEYS))
        if cpu_keys and "cpu_env" not in names:
            pytest.fail(
                f"@pytest.mark.causal_eval({', '.join(cpu_keys)}=...) configures the cpu_env fixture; "
                "add cpu_env to the test's arguments or @pytest.mark.usefixtures('cpu_env')",
                pytrace=False,
            )
        gpu_keys = sorted(set(kwargs) & set(GPU_MARKER_KEYS) - {"device"})
        if "gpu_env" in names:
            return
        if gpu_keys and "device" not in kwargs:
            pytest.fail(
                f"@pytest.mark.causal_eval({', '.join(gpu_keys)}=...) configures the gpu_env fixture; "
                "add gpu_env to the test's arguments or give device='cuda'",
                pytrace=False,
            )
        if "device" in kwargs:
            from pytest_causal_eval.environment.fixtures import open_gpu_env

            item.stash[GPU_ENV_KEY] = open_gpu_env(item, self.config)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        names = set(getattr(item, "fixturenames", ()))
        env = item.stash.get(GPU_ENV_KEY, None)
        if env is not None and "gpu_env" not in names:
            env.restore()
            del item.stash[GPU_ENV_KEY]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        env = item.stash.get(GPU_ENV_KEY, None)
        if env is None:
            return (yield)
        from pytest_causal_eval.measure.cuda import CudaEventTimer

        timer = CudaEventTimer(base=self.session.timer, device=env.index, cuda=env.torch.cuda)
        item.stash[CUDA_TIMER_KEY] = timer
        item.stash[ITEM_TIMER_KEY] = timer
        try:
            return (yield)
        finally:
            del item.stash[ITEM_TIMER_KEY]

    def pytest_causal_eval_after_measure(
        self, item: pytest.Item, measurement: Measurement, workload: Callable[[], Any]
    ) -> None:
        self._after_measure(item, measurement)

    def pytest_causal_eval_after_measure_async(self, item: pytest.Item, measurement: Measurement) -> None:
        self._after_measure(item, measurement)  # nothing to await: the workload does not run again

    def _after_measure(self, item: pytest.Item, measurement: Measurement) -> None:
        """What the machine said during the measurement: I/O, health, the GC policy, device time."""
        from pytest_causal_eval.environment.health import quick_health
        from pytest_causal_eval.environment.readings import load_average
        from pytest_causal_eval.measure.io import io_metrics
        from pytest_causal_eval.measure.load import LOAD_EXTRA_KEY

        for metric in io_metrics(measurement):
            measurement.add_metric(metric)
        if not self.session.counts_instructions:  # counts do not depend on the machine's load
            # judged by the foreign share read during this measurement when there is one, by the
            # gate's limit (so the health line and the verdict agree); else by the load average
            load = load_average()
            cpus = int((self.health or {}).get("cpus") or os.cpu_count() or 1)
            measurement.extra["health"] = quick_health(
                self.health,
                load[0] if load else None,
                cpus,
                own_processes=max(1, self.workers),
                load=measurement.extra.get(LOAD_EXTRA_KEY),
                max_foreign_load=self.max_foreign_load,
            )
        cpu_env = item.stash.get(CPU_ENV_KEY, None)
        if cpu_env is not None and cpu_env.gc_policy is not None:
            measurement.gc = cpu_env.gc_policy
        timer = item.stash.get(CUDA_TIMER_KEY, None)
        if timer is not None:
            _record_device_time(measurement, timer.take_device_ns())
        gpu = GPU.get(measurement)
        if gpu is not None and self.gpu_environment is None:
            self.gpu_environment = {k: v for k, v in gpu.items() if k != "settings"}

    # -- session end -------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # the other features read the machine and git from it
    def pytest_causal_eval_session_results(self, config: pytest.Config, results: Any) -> None:
        from pytest_causal_eval.environment.fingerprint import collect_environment
        from pytest_causal_eval.session import describe_error

        try:
            results.environment.update(collect_environment(config.rootpath))
        except Exception as exc:
            self.session.errors.append(f"could not describe the environment: {describe_error(exc)}")
        if self.health is not None:
            results.environment["health"] = self.health
        results.environment["xdist"] = {
            "mode": self.effective_mode,
            "requested_mode": self.mode,
            "workers": self.workers,
        }
        gpu = self.gpu_environment
        if gpu is None:
            for m in results.measurements:
                candidate = GPU.get(m)
                if candidate is not None:
                    gpu = {k: v for k, v in candidate.items() if k != "settings"}
                    break
        if gpu is not None:
            results.environment["gpu"] = gpu

    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        if self.workers <= 1:
            return None
        lines = [f"causal-eval xdist timing: {self.effective_mode} ({self.workers} workers)"]
        lines.extend(f"causal-eval: {note}" for note in self.notes)
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.is_worker:
            return
        lines = summary_lines(self.health, self.notes, self.session.results)
        for line in lines:
            terminalreporter.write_line(line)


def summary_lines(health: dict[str, Any] | None, notes: list[str], results: Any) -> list[str]:
    """The environment's lines in the terminal summary (warnings, never Python warnings)."""
    lines: list[str] = []
    measurements: list[Measurement] = list(getattr(results, "measurements", None) or [])
    healths = [HEALTH.get(m) for m in measurements]
    noisy = [(m.id, h) for m, h in zip(measurements, healths, strict=True) if h is not None and h.noisy]
    if health is not None and health.get("noisy"):
        start = "the machine looked noisy at the start: " + "; ".join(health.get("reasons") or [])
        read = bool(healths) and all(
            h is not None and h.judged_by == JUDGED_BY_FOREIGN_SHARE for h in healths
        )
        if read:  # each measurement read the foreign load during its own rounds: that judged them
            lines.append(
                f"causal-eval: note: {start}; each measurement read other processes' CPU use during its "
                f"own measurement instead ({len(noisy)} of {len(measurements)} noisy)"
            )
        else:
            lines.append(f"causal-eval: WARNING {start} (run `causal-eval env` for tuning hints)")
    if noisy:
        lines.append(
            f"causal-eval: WARNING {len(noisy)} measurement(s) taken while the machine was noisy "
            f"(first: {noisy[0][0]}: {'; '.join(noisy[0][1].reasons)}){_judged_by([h for _, h in noisy])}"
        )
    unread = [(m.id, why) for m in measurements if (why := unread_reason(m.extra.get("load"))) is not None]
    if unread:
        lines.append(
            f"causal-eval: WARNING foreign CPU load could not be read for {len(unread)} measurement(s) "
            f"(first: {unread[0][0]}: {unread[0][1]}): their health was judged by the load average "
            "and their time verdicts could not be checked for it"
        )
    unsynced = [m.id for m in measurements if (m.extra.get("gpu_timing") or {}).get("unsynchronized")]
    if unsynced:
        lines.append(
            "causal-eval: WARNING unsynchronized GPU timing (host time far below device time): "
            + ", ".join(unsynced)
        )
    lines.extend(f"causal-eval: WARNING {note}" for note in notes)
    return lines


def _judged_by(healths: list[Any]) -> str:
    """' (judged by: the foreign share read during the measurement 2, the load average 1)'."""
    words = {
        JUDGED_BY_FOREIGN_SHARE: "the foreign CPU share read during the measurement",
        JUDGED_BY_LOAD_AVERAGE: "the 1-minute load average (no reading)",
    }
    counts: dict[str, int] = {}
    for health in healths:
        if health.judged_by in words:
            counts[health.judged_by] = counts.get(health.judged_by, 0) + 1
    if not counts:
        return ""
    return " (CPU judged by " + ", ".join(f"{words[k]}: {n}" for k, n in counts.items()) + ")"


def _record_device_time(measurement: Measurement, device_ns: list[int]) -> None:
    from pytest_causal_eval.measure.cuda import check_synchronized

    if not device_ns or measurement.iterations <= 0:
        return
    device = [d / measurement.iterations / 1e9 for d in device_ns]
    check = check_synchronized(measurement.samples, device)
    record: dict[str, Any] = {"device_samples": device, "host_samples_same_rounds": len(measurement.samples)}
    if check is not None:
        record.update(check.to_dict())
    measurement.extra["gpu_timing"] = record
    median = sorted(device)[len(device) // 2]
    measurement.add_metric(Metric("gpu_device_time", median, unit="s", better="lower", samples=device))


class _CpuEnvProbe:
    """Applies cpu_env's gc policy around the timed section and records the CPU settings in force."""

    def __init__(self, item: pytest.Item, xdist: dict[str, Any] | None) -> None:
        self._env = item.stash.get(CPU_ENV_KEY, None)
        self._xdist = xdist
        self._timing: contextlib.ExitStack | None = None

    def start(self) -> None:
        if self._env is not None and self._env.gc_policy is not None:
            self._timing = contextlib.ExitStack()
            self._timing.enter_context(self._env.timing())

    def stop(self, measurement: Measurement) -> None:
        if self._timing is not None:
            self._timing.close()
            self._timing = None
        record = self._env.describe() if self._env is not None else {"configured": False, **_state()}
        if self._xdist is not None:
            record["xdist"] = dict(self._xdist)
        measurement.extra["cpu_env"] = record


def _state() -> dict[str, Any]:
    return {"state": current_cpu_state()}


class _LoadProbe:
    """Foreign CPU load over the timed rounds (or a wider window when they were too short to read:
    ``measure.load.read_measurement``), into ``measurement.extra['load']``."""

    def __init__(self, sampler: LoadSampler) -> None:
        self._sampler = sampler
        self._whole: object = None
        self._begun: object = None
        self._started = False

    def start(self) -> None:
        # the whole measurement's window, read only when the timed rounds are too short to read
        self._whole = self._sampler.begin()

    def timed_start(self) -> None:
        self._begun = self._sampler.begin()
        self._started = True

    def stop(self, measurement: Measurement) -> None:
        if not self._started:
            return
        from pytest_causal_eval.measure.load import LOAD_EXTRA_KEY, read_measurement

        measurement.extra[LOAD_EXTRA_KEY] = read_measurement(self._sampler, self._begun, self._whole)


class _GpuProbe:
    """Resets the GPU's peak-memory counters before a measurement and reads them after."""

    def __init__(self, env: Any, timer: Any) -> None:
        self._env = env
        self._timer = timer

    def start(self) -> None:
        self._env.reset_peak()
        if self._timer is not None:
            self._timer.take_device_ns()  # rounds of an aborted earlier measurement do not count

    def stop(self, measurement: Measurement) -> None:
        allocated, reserved = self._env.peak()
        measurement.add_metric(Metric("gpu_peak_allocated", float(allocated), unit="B", better="lower"))
        measurement.add_metric(Metric("gpu_peak_reserved", float(reserved), unit="B", better="lower"))
        GPU.put(measurement, self._env.describe())
