"""What observes a measurement besides the clocks: a probe, and the factory a feature registers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pytest

from pytest_causal_eval.results import Measurement

__all__ = ["Probe", "ProbeFactory"]


class Probe(Protocol):
    """Something that observes one measurement: started before warm-up, stopped after the rounds.

    A probe may also have ``timed_start()``: called once more right before the first timed round
    (after warm-up and calibration), for what must cover the timed rounds only.
    """

    def start(self) -> None: ...

    def stop(self, measurement: Measurement) -> None: ...


ProbeFactory = Callable[[pytest.Item, Measurement], Probe | None]
