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
