"""The keys of ``Measurement.extra`` that cross features: one package writes them, another reads them.

``extra`` is a free JSON object where each feature keeps its own notes. The keys below are read
outside the package that writes them, so both sides go through one typed ``ExtraKey``:
``KEY.get(m)`` decodes the stored value (None when it is absent or not of its shape, which the readers
checked by hand before) and ``KEY.put(m, value)`` stores its JSON form. The stored form is the one the
writers wrote as plain dicts before (``tests/foundation/test_extra_keys.py`` checks it byte for byte);
mypy checks the writer and the readers against one type.

Keys a feature both writes and reads itself (``hotspots``, ``profile_notes``, ``gpu_timing``, ...) stay
plain strings in that feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pytest_causal_eval.results import Measurement, Verdict
from pytest_causal_eval.stats.noise import NoiseProfile

__all__ = [
    "CONFIRMED",
    "EXPLANATION",
    "GPU",
    "HEALTH",
    "INSTRUCTIONS",
    "INSTRUCTION_HOTSPOTS",
    "INSTRUCTION_PROFILE",
    "MEMORY",
    "NOISE",
    "PASSED",
    "PROFILE_ARTIFACTS",
    "REMEASURED",
    "REMEASURED_UNDER_LOAD",
    "THRESHOLDS",
    "VERDICT",
    "ExtraKey",
    "InstructionProfileFiles",
    "MeasurementHealth",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ExtraKey(Generic[T]):
    """One key of ``Measurement.extra`` with the type of its value."""

    name: str
    decode: Callable[[Any], T | None]  # the stored value -> the typed one (None: absent or malformed)
    encode: Callable[[T], Any]  # the typed value -> what is stored (JSON)

    def get(self, measurement: Measurement) -> T | None:
        return self.decode(measurement.extra.get(self.name))

    def put(self, measurement: Measurement, value: T) -> None:
        measurement.extra[self.name] = self.encode(value)

    def present(self, measurement: Measurement) -> bool:
        return self.name in measurement.extra


def _same(value: T) -> T:
    return value


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> dict[str, Any] | None:
    """A JSON object as stored (the same dict: a writer may add to it in place)."""
    return value if isinstance(value, dict) else (dict(value) if isinstance(value, Mapping) else None)


def _strings(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): str(v) for k, v in value.items()}


def _lines(value: Any) -> dict[str, list[str]] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): [str(line) for line in v] for k, v in value.items() if isinstance(v, list)}


def _records(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [dict(r) for r in value if isinstance(r, Mapping)]


#: What judged a measurement's CPU health (``MeasurementHealth.judged_by``): the foreign share read
#: during the measurement, or the 1-minute load average when there was no reading.
JUDGED_BY_FOREIGN_SHARE = "foreign share"
JUDGED_BY_LOAD_AVERAGE = "load average"
#: The health reasons about the CPU: the start of the run's (load average, busy processes), which a
#: measurement's own reading supersedes, and that reading's (re-judged when it is replaced).
CPU_REASONS = ("load average", "busy processes", "other processes used")


@dataclass
class MeasurementHealth:
    """The machine's health while one measurement ran (the environment feature's reading): ``noisy``
    with the ``reasons`` (foreign CPU load, a load average, busy processes), stored as
    ``extra["health"]``. ``judged_by`` says what judged the CPU: ``foreign share`` (read during the
    measurement, ``foreign_share``) or ``load average`` (no reading); absent in older files and
    when neither was read."""

    noisy: bool
    load_avg_1m: float | None = None
    busy_processes: list[Any] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    judged_by: str | None = None
    foreign_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "noisy": self.noisy,
            "load_avg_1m": self.load_avg_1m,
            "busy_processes": list(self.busy_processes),
            "reasons": list(self.reasons),
        }
        if self.judged_by is not None:
            out["judged_by"] = self.judged_by
        if self.foreign_share is not None:
            out["foreign_share"] = self.foreign_share
        return out

    @classmethod
    def from_dict(cls, data: Any) -> MeasurementHealth | None:
        if not isinstance(data, Mapping):
            return None
        load = data.get("load_avg_1m")
        busy = data.get("busy_processes")
        reasons = data.get("reasons")
        judged_by = data.get("judged_by")
        share = data.get("foreign_share")
        return cls(
            noisy=bool(data.get("noisy")),
            load_avg_1m=_number(load),
            busy_processes=list(busy) if isinstance(busy, list) else [],
            reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [],
            judged_by=str(judged_by) if isinstance(judged_by, str) else None,
            foreign_share=_number(share),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class InstructionProfileFiles:
    """The files instruction mode's hotspots of one measurement are read from, in the re-run's private
    directory (they last until the run ends): the callgrind ``dump`` of ``calls`` calls and the
    ``perf_map`` that names its Python frames (``py::qualname``), None where there is none.

    On CPython 3.12+ they come from a profile pass through the perf trampoline after the count (the
    trampolines add instructions, so the count the gate compares never runs through them); on 3.11
    the dump is the count's own and Python frames are not named.
    """

    dump: str
    calls: int
    perf_map: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"dump": self.dump, "calls": self.calls, "perf_map": self.perf_map}

    @classmethod
    def from_dict(cls, data: Any) -> InstructionProfileFiles | None:
        if not isinstance(data, Mapping):
            return None
        dump, calls, perf_map = data.get("dump"), _int(data.get("calls")), data.get("perf_map")
        if not isinstance(dump, str) or not dump or calls is None or calls < 1:
            return None
        named = perf_map if isinstance(perf_map, str) and perf_map else None
        return cls(dump=dump, calls=calls, perf_map=named)


#: The gate's judgement (baseline; also causal-eval compare, ab and merge).
VERDICT: ExtraKey[Verdict] = ExtraKey("verdict", Verdict.from_dict, Verdict.to_dict)
#: Whether the test passed (the session; ab's pooling: all runs passed).
PASSED: ExtraKey[bool] = ExtraKey("passed", _bool, _same)
#: The thresholds the gate applied, as written (``{"default": "10%", metric: ...}``; baseline).
THRESHOLDS: ExtraKey[dict[str, str]] = ExtraKey("thresholds", _strings, _same)
#: The rounds' noise profile (baseline, causal-eval compare).
NOISE: ExtraKey[NoiseProfile] = ExtraKey("noise", NoiseProfile.from_dict, NoiseProfile.to_dict)
#: How many extra measuring passes an undecided comparison took (baseline's re-measuring).
REMEASURED: ExtraKey[int] = ExtraKey("remeasured", _int, _same)
#: A time regression measured under foreign load, measured afresh (baseline's re-measuring):
#: ``{"passes": n, "foreign_shares": [the share of each replaced pass, or None when unread]}``.
REMEASURED_UNDER_LOAD: ExtraKey[dict[str, Any]] = ExtraKey("remeasured_under_load", _object, _same)
#: The fresh passes of a time regression or of a saved measurement (baseline's confirm.py):
#: ``{"passes": n, "changes" (judging) or "times" (saving): one per pass, "kept": its index}``.
CONFIRMED: ExtraKey[dict[str, Any]] = ExtraKey("confirmed", _object, _same)
#: Why each regressed metric regressed: ``{metric: lines}`` (baseline's explainers).
EXPLANATION: ExtraKey[dict[str, list[str]]] = ExtraKey("explanation", _lines, _same)
#: The machine's health during the measurement (environment).
HEALTH: ExtraKey[MeasurementHealth] = ExtraKey(
    "health", MeasurementHealth.from_dict, MeasurementHealth.to_dict
)
#: The GPU the measurement ran on (environment's gpu_env): device name, CUDA and cuDNN versions, ...
GPU: ExtraKey[dict[str, Any]] = ExtraKey("gpu", _object, _same)
#: The memory profile: peak, allocation sites, leak check, backend (profiling).
MEMORY: ExtraKey[dict[str, Any]] = ExtraKey("memory", _object, _same)
#: The profile files of the measurement, ``{kind: path}`` (profiling).
PROFILE_ARTIFACTS: ExtraKey[dict[str, str]] = ExtraKey("profile_artifacts", _strings, _same)
#: Instruction mode's callgrind hotspots (profiling's instruction plugin).
INSTRUCTION_HOTSPOTS: ExtraKey[list[dict[str, Any]]] = ExtraKey("instruction_hotspots", _records, _same)
#: Instruction mode's record of one count: calls, warm-up calls, per-call events, the callgrind
#: ``dump`` file, hash seed, gc state, ... (the instructions feature; read by the instruction hotspots).
INSTRUCTIONS: ExtraKey[dict[str, Any]] = ExtraKey("instructions", _object, _same)
#: Where instruction mode's hotspots come from: a callgrind file and the perf map naming its Python
#: frames (the instructions feature; read by the instruction hotspots).
INSTRUCTION_PROFILE: ExtraKey[InstructionProfileFiles] = ExtraKey(
    "instruction_profile", InstructionProfileFiles.from_dict, InstructionProfileFiles.to_dict
)
