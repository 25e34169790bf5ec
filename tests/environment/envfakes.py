"""Fakes shared by the environment tests (source text, so pytester conftests can use it too)."""

from __future__ import annotations

# A fake CUDA runtime patched onto the real (CPU-only) torch: two devices, event clocks driven by
# a device counter the test advances, peak-memory counters the test sets. Used in-process and, as
# source, in pytester conftests.
FAKE_CUDA_SOURCE = """
import torch


class FakeCuda:
    def __init__(self):
        self.device_now = 0
        self.current = 0
        self.fractions = {0: 1.0, 1: 1.0}
        self.peaks = {"allocated": 0, "reserved": 0}
        self.resets = 0
        self.syncs = 0
        self.empty_cache_calls = 0
        fake = self

        class Event:
            def __init__(self, enable_timing=False):
                self.at = None

            def record(self):
                self.at = fake.device_now

            def synchronize(self):
                fake.syncs += 1

            def elapsed_time(self, end):
                return (end.at - self.at) / 1e6

        self.Event = Event

    def install(self, monkeypatch):
        cuda = torch.cuda
        props = type("Props", (), {"name": "Fake GPU 9000", "total_memory": 8 << 30, "major": 9, "minor": 0})
        for name, value in {
            "is_available": lambda: True,
            "device_count": lambda: 2,
            "current_device": lambda: self.current,
            "set_device": self._set_device,
            "get_per_process_memory_fraction": lambda device=None: self.fractions[device],
            "set_per_process_memory_fraction": self._set_fraction,
            "reset_peak_memory_stats": self._reset,
            "max_memory_allocated": lambda device=None: self.peaks["allocated"],
            "max_memory_reserved": lambda device=None: self.peaks["reserved"],
            "get_device_properties": lambda index: props(),
            "synchronize": self._sync,
            "empty_cache": self._empty,
            "Event": self.Event,
        }.items():
            monkeypatch.setattr(cuda, name, value)
        return self

    def _set_device(self, index):
        self.current = int(index)

    def _set_fraction(self, value, device=None):
        self.fractions[device] = value

    def _reset(self, device=None):
        self.resets += 1
        self.peaks = {"allocated": 0, "reserved": 0}

    def _sync(self, device=None):
        self.syncs += 1

    def _empty(self):
        self.empty_cache_calls += 1
"""

# A psutil stand-in for the health check: processes whose CPU time the OS counts in 10 ms ticks, a
# clock that moves only when told (and a little on every read of a process, as reading /proc does),
# and psutil's own ``cpu_percent`` semantics (since the previous call, % of one CPU). As source so a
# test can load it in-process and a pytester conftest can too.
FAKE_PSUTIL_SOURCE = """
import collections
import math

CpuTimes = collections.namedtuple("CpuTimes", "user system")
Memory = collections.namedtuple("Memory", "total available")
Swap = collections.namedtuple("Swap", "total used sin sout")


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def perf_counter(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class FakeProcess:
    READ_COST = 0.0005  # seconds one read of a process's counters takes

    def __init__(self, psutil, pid, name, cores, cpu_at_start=0.0, tick=0.01):
        self._psutil = psutil
        self.pid = pid
        self.info = {"pid": pid, "name": name}
        self.cores = cores
        self.tick = tick
        self._start = psutil.time.now
        self._cpu_at_start = cpu_at_start
        self._last = None

    def _cpu(self):
        self._psutil.time.now += self.READ_COST
        exact = self._cpu_at_start + (self._psutil.time.now - self._start) * self.cores
        return math.floor(exact / self.tick + 1e-9) * self.tick

    def cpu_times(self):
        return CpuTimes(self._cpu(), 0.0)

    def cpu_percent(self, interval=None):
        cpu, now = self._cpu(), self._psutil.time.now
        last, self._last = self._last, (now, cpu)
        if last is None or now <= last[0]:
            return 0.0
        return round((cpu - last[1]) / (now - last[0]) * 100, 1)

    def parents(self):
        return []

    def children(self, recursive=False):
        return []


class FakePsutil:
    def __init__(self, cpus=2):
        self.time = FakeTime()
        self.cpus = cpus
        self.me = FakeProcess(self, 1, "pytest", 1.0)
        self.procs = []
        self.iterations = 0

    def add(self, pid, name, cores, cpu_at_start=0.0):
        self.procs.append(FakeProcess(self, pid, name, cores, cpu_at_start))

    def Process(self):
        return self.me

    def process_iter(self, attrs=None):
        self.iterations += 1
        return list(self.procs)

    def cpu_count(self, logical=True):
        return self.cpus

    def virtual_memory(self):
        return Memory(total=16 << 30, available=12 << 30)

    def swap_memory(self):
        return Swap(total=0, used=0, sin=0, sout=0)
"""
