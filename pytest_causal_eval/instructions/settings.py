"""The instruction-mode feature's settings, typed: what the feature, the re-run under valgrind and
the profiling feature read from the resolved options."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_causal_eval.options import Settings

__all__ = ["InstructionSettings"]


@dataclass(frozen=True)
class InstructionSettings:
    """Instruction mode's settings, typed (their defaults are the ``OPTIONS`` of ``instructions.feature``)."""

    mode: str  # time | instructions
    cache_sim: bool
    allocator_cost: str  # fixed | executed
    count_timeout: float  # seconds

    @property
    def counts_instructions(self) -> bool:
        return self.mode == "instructions"

    @classmethod
    def of(cls, settings: Settings) -> InstructionSettings:
        return cls(
            mode=str(settings["mode"]),
            cache_sim=bool(settings["cache_sim"]),
            allocator_cost=str(settings["allocator_cost"]),
            count_timeout=float(settings["count_timeout"]),
        )
