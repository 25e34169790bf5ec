"""Instruction-mode hotspots from real callgrind files (tests/measure/fixtures) and their diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.extra_keys import INSTRUCTION_PROFILE, InstructionProfileFiles
from pytest_causal_eval.measure.callgrind import PerfMap, name_python_frames, read_callgrind
from pytest_causal_eval.profiling.callgrind_hotspots import (
    InstructionHotspot,
    diff_instruction_hotspots,
    format_count,
    instruction_hotspot_lines,
    instruction_hotspots,
)
from pytest_causal_eval.profiling.instruction_plugin import (
    EXTRA_KEY,
    InstructionHotspotsPlugin,
    parse_natively,
)
from pytest_causal_eval.profiling.stored import baseline_profile, restore_profile
from pytest_causal_eval.results import Measurement, Metric, RunResults

FIXTURES = Path(__file__).parents[1] / "measure" / "fixtures"
# sort_words: sorted() of 200 short strings, 2 counted calls (CPython 3.11); _more: 250 strings.
# py_score: a pure-Python scoring loop, 2 calls, CPython 3.12 with the perf trampoline; _more: +25% words.


def spots(name: str, perf_map: bool = False, **kwargs: Any) -> list[InstructionHotspot]:
    profile = read_callgrind(FIXTURES / f"{name}.callgrind")
    if perf_map:
        profile = name_python_frames(profile, PerfMap.parse((FIXTURES / f"{name}.perf.map").read_text()))
    return instruction_hotspots(profile, calls=2, **kwargs)


def by_name(hotspots: list[InstructionHotspot]) -> dict[str, InstructionHotspot]:
    return {h.function: h for h in hotspots}


def test_per_call_self_and_inclusive_costs_of_a_real_sort() -> None:
    found = by_name(spots("sort_words"))
    # callgrind_annotate --inclusive=yes: list_sort_impl 200,486 inclusive, 42,750 self for 2 calls.
    assert (found["list_sort_impl"].inclusive, found["list_sort_impl"].self_instructions) == (100243, 21375)
    assert found["list_sort_impl"].calls == 1
    assert found["unsafe_latin_compare"].self_instructions == 39040
    latin = found["unsafe_latin_compare"]
    assert (latin.object, latin.file) == ("libpython3.11", "listobject.c")  # no machine's directories
    assert found["list_sort_impl"].label == "list_sort_impl [libpython3.11]"
    # The frames where counting began (no counted caller) are the harness, not hotspots.
    assert "long_new_impl.part.0" not in found


def test_recursion_depth_entries_are_merged() -> None:
    profile = read_callgrind(FIXTURES / "square_sum.callgrind")
    entries = profile.function("PyObject_Vectorcall")
    assert {f.name for f in entries} == {"PyObject_Vectorcall", "PyObject_Vectorcall'2"}
    (merged,) = [h for h in instruction_hotspots(profile, calls=2) if h.function == "PyObject_Vectorcall"]
    assert merged.self_instructions == sum(f.self_cost["Ir"] for f in entries) / 2
    assert merged.inclusive == max(f.inclusive["Ir"] for f in entries) / 2


def test_kept_functions_are_ordered_by_own_instructions_and_never_exceed_the_total() -> None:
    profile = read_callgrind(FIXTURES / "sort_words.callgrind")
    found = instruction_hotspots(profile, calls=2)
    assert [h.self_instructions for h in found] == sorted((h.self_instructions for h in found), reverse=True)
    assert all(h.inclusive <= profile.total() / 2 for h in found)
    assert len(instruction_hotspots(profile, calls=2, limit=3)) == 3
    with pytest.raises(ValueError, match="calls must be at least 1"):
        instruction_hotspots(profile, calls=0)


def test_diff_of_a_planted_bigger_sort_names_the_comparison_first() -> None:
    before, after = spots("sort_words"), spots("sort_words_more")
    changes = diff_instruction_hotspots(after, before, limit=5, min_instructions=500)
    assert [c.label for c in changes[:3]] == [
        "unsafe_latin_compare [libpython3.11]",
        "__memcmp_avx2_movbe [libc]",
        "list_sort_impl [libpython3.11]",
    ]
    assert [abs(c.contribution) for c in changes] == sorted(
        (abs(c.contribution) for c in changes), reverse=True
    )
    first = changes[0]
    assert (first.before_self, first.after_self) == (39040, 51904)
    # Nothing moves against itself.
    assert diff_instruction_hotspots(before, before, min_instructions=1) == []


def test_regression_lines_on_python_3_11_say_python_functions_are_not_named() -> None:
    before, after = spots("sort_words"), spots("sort_words_more")
    total = read_callgrind(FIXTURES / "sort_words.callgrind").total() / 2
    lines = instruction_hotspot_lines(after, before, total, python_version="3.11")
    assert lines[0].startswith("functions whose own instructions changed against the baseline")
    assert lines[1] == (
        "  unsafe_latin_compare [libpython3.11]  self 39k -> 51.9k (+12.9k); "
        "with callees 64.7k -> 86k (+21.3k)"
    )
    assert lines[-1].startswith("note: Python functions are not named: CPython 3.11 has no perf trampoline")
    unchanged = instruction_hotspot_lines(before, before, total, python_version="3.11")
    assert unchanged[0].startswith("no function's own instructions moved by 0.5%")
    assert unchanged[1].startswith("  unsafe_latin_compare [libpython3.11]  self 39k, with callees 64.7k")
    no_baseline = instruction_hotspot_lines(after, None)
    assert no_baseline[0].startswith("the baseline stores no instruction hotspots")


def test_python_frames_named_by_the_perf_map_come_first_with_their_callees() -> None:
    roots = ["/opt/project"]
    before = spots("py_score", perf_map=True, roots=roots)
    after = spots("py_score_more", perf_map=True, roots=roots)
    weight = by_name(before)["py::weight"]
    assert (weight.object, weight.file, weight.is_python) == ("python", "workload312.py", True)
    assert weight.contribution == weight.inclusive  # a frame's own cost is its trampoline's
    total = read_callgrind(FIXTURES / "py_score.callgrind").total() / 2
    lines = instruction_hotspot_lines(after, before, total)
    assert lines[0].startswith("Python functions whose instructions (with callees) changed")
    assert lines[1] == "  py::<lambda> (workload312.py)  with callees 278k -> 348k (+70.1k)"
    assert "  py::weight (workload312.py)  with callees 238k -> 299k (+60.7k)" in lines
    native = lines.index(
        "functions whose own instructions changed against the baseline, per call (biggest first):"
    )
    assert lines[native + 1].startswith("  _PyEval_EvalFrameDefault [libpython3.12]  self 106k -> 132k")
    assert [line for line in lines if line.startswith("note:")] == [
        "note: these figures come from a profile pass through CPython's perf trampoline (it names the "
        "Python functions and adds its own instructions); the count the gate compares ran without it"
    ]
    # the trampolines' own bookkeeping is the profile pass's overhead, not the workload's
    assert not {"py_trampoline_evaluator", "PyUnstable_Code_GetExtra"} & set(by_name(before))
    assert "_PyEval_EvalFrameDefault" in by_name(before)


def test_python_frames_on_one_side_only_compare_the_c_functions_and_say_why() -> None:
    """A baseline saved before Python frames were read (or on 3.11) against a run that names them:
    every Python function would read as new; only the C functions are compared, with the reason."""
    named = spots("py_score_more", perf_map=True, roots=["/opt/project"])
    unnamed = spots("py_score")
    total = read_callgrind(FIXTURES / "py_score.callgrind").total() / 2
    lines = instruction_hotspot_lines(named, unnamed, total)
    assert not any("py::" in line for line in lines)
    assert lines[0].startswith("functions whose own instructions changed against the baseline")
    assert lines[1].startswith("  _PyEval_EvalFrameDefault [libpython3.12]  self 106k -> 132k")
    assert lines[-1] == (
        "note: this run's hotspots name Python functions and the baseline's do not (a baseline saved "
        "before Python frames were read, or on CPython 3.11): only C functions are compared; save the "
        "baseline again to compare Python functions"
    )
    reverse = instruction_hotspot_lines(unnamed, named, total)
    assert reverse[-1].startswith("note: the baseline's hotspots name Python functions and this run's do not")


def test_python_functions_of_one_name_in_two_files_are_paired_each_with_its_own() -> None:
    def frame(file: str, inclusive: float) -> InstructionHotspot:
        return InstructionHotspot("py::main", "python", file, 4.0, inclusive, 1.0)

    before = [frame("app/a.py", 1000.0), frame("app/b.py", 500.0)]
    after = [frame("app/a.py", 1400.0), frame("app/b.py", 500.0)]  # a.py's main grew, b.py's did not
    (change,) = diff_instruction_hotspots(after, before)
    assert (change.label, change.before_inclusive, change.after_inclusive) == (
        "py::main (app/a.py)",
        1000.0,
        1400.0,
    )


def test_harness_frames_are_left_out() -> None:
    found = by_name(
        spots("py_score", perf_map=True, roots=["/opt/project"], exclude=["/opt/project/workload312"])
    )
    assert not any(name.startswith("py::") for name in found)
    assert "_PyEval_EvalFrameDefault" in found


def test_counts_are_shown_with_three_digits() -> None:
    assert [format_count(v) for v in (0, 999, 1000, 51920, 1.92e6, -2.5e9, None)] == [
        "0",
        "999",
        "1k",
        "51.9k",
        "1.92M",
        "-2.5G",
        "-",
    ]


def test_the_baseline_keeps_instruction_hotspots_beside_pyinstrument_ones() -> None:
    extra = {
        "hotspots": [{"function": "f", "file": "a.py", "line": 1, "self": 0.5, "total": 0.5}],
        EXTRA_KEY: [h.to_dict() for h in spots("sort_words")[:3]],
    }
    stored = baseline_profile(extra)
    assert set(stored) == {"hotspots", EXTRA_KEY}
    assert restore_profile({"profile": stored}) == stored
    assert [InstructionHotspot.from_dict(h) for h in stored[EXTRA_KEY]] == spots("sort_words")[:3]


def measured(name: str, dump: Path | None, perf_map: Path | None = None) -> Measurement:
    """A measurement as the instructions feature records it: the files its hotspots are read from."""
    m = Measurement(id=f"test_sort[{name}]", test_id="test_sort", name=name)
    if dump is not None:
        files = InstructionProfileFiles(str(dump), 2, str(perf_map) if perf_map is not None else None)
        INSTRUCTION_PROFILE.put(m, files)
    return m


def test_files_are_parsed_in_a_child_process_one_result_per_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.callgrind"
    broken.write_text("fn=f\n0 1\n")
    answers = parse_natively(
        [
            {"path": str(FIXTURES / "sort_words.callgrind"), "calls": 2},
            {"path": str(broken), "calls": 2},
        ]
    )
    assert answers[0] == [h.to_dict() for h in spots("sort_words")]
    assert isinstance(answers[1], str) and "CallgrindFormatError" in answers[1]


def test_the_plugin_fills_every_measurement_in_one_parse_and_explains_an_instruction_regression() -> None:
    calls: list[int] = []

    def runner(requests: Any) -> list[Any]:
        calls.append(len(requests))
        return parse_natively(requests)

    plugin = InstructionHotspotsPlugin(roots=[], runner=runner)
    head = measured("head", FIXTURES / "sort_words_more.callgrind")
    other = measured("other", FIXTURES / "sort_words.callgrind")
    timed = measured("timed", None)
    no_config: Any = None
    plugin.pytest_causal_eval_session_results(no_config, RunResults(measurements=[head, other, timed]))
    assert calls == [2] and EXTRA_KEY in head.extra and EXTRA_KEY not in timed.extra
    baseline = Measurement(
        id=head.id, test_id="test_sort", name="head", extra={EXTRA_KEY: other.extra[EXTRA_KEY]}
    )
    baseline.add_metric(Metric("instructions", 108784.5, unit="instructions", better="lower"))
    lines = plugin.pytest_causal_eval_explain(None, head, baseline, None, "instructions")  # type: ignore[arg-type]
    assert lines is not None and lines[1].startswith(
        "  unsafe_latin_compare [libpython3.11]  self 39k -> 51.9k"
    )
    assert calls == [2]  # already read: not parsed again
    cycles = plugin.pytest_causal_eval_explain(None, head, baseline, None, "estimated_cycles")  # type: ignore[arg-type]
    assert (
        cycles is not None
        and cycles[0] == "(functions by instructions executed; cache misses are not broken down)"
    )
    assert cycles[1:] == lines
    assert plugin.pytest_causal_eval_explain(None, head, baseline, None, "time") is None  # type: ignore[arg-type]
    missing = plugin.pytest_causal_eval_explain(None, timed, baseline, None, "instructions")  # type: ignore[arg-type]
    assert missing == ["no instruction hotspots: this measurement has no callgrind file"]


def test_the_plugin_names_python_frames_with_the_perf_map_recorded_beside_the_profile() -> None:
    """On 3.12+ the instructions feature records the profile pass's file and its perf map
    (``INSTRUCTION_PROFILE``); the hotspots and their diff name the Python functions (py::qualname),
    paired with the baseline's by name."""
    plugin = InstructionHotspotsPlugin(roots=["/opt/project"])
    before = measured("before", FIXTURES / "py_score.callgrind", FIXTURES / "py_score.perf.map")
    head = measured("head", FIXTURES / "py_score_more.callgrind", FIXTURES / "py_score_more.perf.map")
    plugin.fill([before, head])
    stored = {h["function"]: h for h in head.extra[EXTRA_KEY]}
    assert (stored["py::weight"]["object"], stored["py::weight"]["file"]) == ("python", "workload312.py")
    baseline = Measurement(
        id=head.id, test_id="test_sort", name="head", extra={EXTRA_KEY: before.extra[EXTRA_KEY]}
    )
    baseline.add_metric(Metric("instructions", 139000.0, unit="instructions", better="lower"))
    lines = plugin.pytest_causal_eval_explain(None, head, baseline, None, "instructions")  # type: ignore[arg-type]
    assert lines is not None
    assert lines[0].startswith("Python functions whose instructions (with callees) changed")
    assert "  py::weight (workload312.py)  with callees 238k -> 299k (+60.7k)" in lines
    assert lines[-1].startswith(
        "note: these figures come from a profile pass through CPython's perf trampoline"
    )


def test_without_a_perf_map_the_hotspots_are_the_c_functions_as_on_3_11() -> None:
    plugin = InstructionHotspotsPlugin(roots=["/opt/project"])
    head = measured("head", FIXTURES / "py_score_more.callgrind")  # no perf map recorded
    plugin.fill([head])
    assert not any(h["object"] == "python" for h in head.extra[EXTRA_KEY])


def test_a_parser_that_fails_is_noted_on_each_measurement_and_said_in_the_explanation(tmp_path: Path) -> None:
    def broken(requests: Any) -> list[Any]:
        raise RuntimeError("the callgrind parser exited with 1: MemoryError")

    plugin = InstructionHotspotsPlugin(roots=[], runner=broken)
    head = measured("head", FIXTURES / "sort_words_more.callgrind")
    gone = measured("gone", tmp_path / "removed.callgrind")  # its file is gone: not asked for
    plugin.fill([head, gone])
    assert head.extra["profile_notes"] == [
        "instruction hotspots: the callgrind parser exited with 1: MemoryError"
    ]
    assert "profile_notes" not in gone.extra
    lines = plugin.pytest_causal_eval_explain(None, head, None, None, "estimated_cycles")  # type: ignore[arg-type]
    assert lines == ["instruction hotspots: the callgrind parser exited with 1: MemoryError"]
