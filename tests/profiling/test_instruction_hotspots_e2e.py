"""An instruction regression explained by callgrind's hotspots, as a user sees it (real valgrind)."""

from __future__ import annotations

import json
import sys

import pytest

from pytest_causal_eval.instructions.plugin import trampoline_available
from pytest_causal_eval.measure.callgrind import PerfMap, name_python_frames, read_callgrind, read_summary

WORKLOAD = """
import os

N = int(os.environ["WORDS"])
WORDS = [f"w{(i * 7919) % 10007:05d}" for i in range(2000)]


def test_sort(causal_bench):
    words = WORDS[:N]
    causal_bench(lambda: sorted(words))
"""


@pytest.mark.usefixtures("needs_valgrind")
def test_a_bigger_sort_names_the_comparison_in_the_regression_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_sort=WORKLOAD)
    args = ("-p", "no:cacheprovider", "--causal-eval", "--causal-eval-mode=instructions")
    monkeypatch.setenv("WORDS", "1000")
    saved = pytester.runpytest_subprocess(*args, "--causal-eval-save", "--causal-eval-baselines=bl")
    saved.assert_outcomes(passed=1)
    (baseline_file,) = (pytester.path / "bl").glob("*.json")
    (entry,) = json.loads(baseline_file.read_text())["measurements"].values()
    stored = {h["function"]: h for h in entry["profile"]["instruction_hotspots"]}
    assert stored["unsafe_latin_compare"]["object"].startswith("libpython3")
    assert "/" not in stored["unsafe_latin_compare"]["file"]  # no machine's directories

    monkeypatch.setenv("WORDS", "1300")
    result = pytester.runpytest_subprocess(*args, "--causal-eval-baselines=bl", "--causal-eval-json=out.json")
    result.assert_outcomes(failed=1)
    assert "test_sort.py::test_sort - Failed: instructions" in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*instructions * vs baseline * per call: +*% > 10% threshold*",
            "functions whose own instructions changed against the baseline, per call (biggest first):",
            "  unsafe_latin_compare [[]libpython3*[]]  self * -> * (+*); with callees * -> * (+*)",
        ]
    )
    # the first lines are the sort's: its comparisons and merges, not the harness
    lines = result.stdout.lines
    first = lines.index(
        "functions whose own instructions changed against the baseline, per call (biggest first):"
    )
    assert {line.split()[0] for line in lines[first + 1 : first + 4]} <= {
        "unsafe_latin_compare",
        "merge_at",
        "__memcmp_avx2_movbe",
        "list_sort_impl",
        "count_run",
        "binarysort",
    }, lines[first : first + 5]
    measured = json.loads((pytester.path / "out.json").read_text())["measurements"][0]
    # (on 3.12+ the Python frames come first: the test's lambda, with the sort as its callee)
    native = [h for h in measured["extra"]["instruction_hotspots"] if h["object"] != "python"]
    assert native[0]["function"] in ("unsafe_latin_compare", "merge_at")


PY_WORKLOAD = """
import os

N = int(os.environ["WORDS"])
WORDS = [f"w{(i * 7919) % 10007:05d}" for i in range(2000)]


def weight(word):
    return sum(ord(c) for c in word)


def score(words):
    return sum(weight(w) for w in words)


def test_score(causal_bench):
    words = WORDS[:N]
    causal_bench(lambda: score(words))
"""

# Keeps the files the hotspots were read from (the re-run's directory goes with the run).
KEEP_FILES = """
import json, os, shutil

import pytest

from pytest_causal_eval.extra_keys import INSTRUCTION_PROFILE, INSTRUCTIONS


@pytest.hookimpl(trylast=True)
def pytest_causal_eval_session_results(config, results):
    (m,) = results.measurements
    counted, files = INSTRUCTIONS.get(m), INSTRUCTION_PROFILE.get(m)
    os.makedirs("kept", exist_ok=True)
    shutil.copy(counted["dump"], "kept/count.callgrind")
    shutil.copy(files.dump, "kept/profile.callgrind")
    shutil.copy(files.perf_map, "kept/profile.perf.map")
    record = {"overhead": counted["overhead"], "calls": counted["calls"], "profile_calls": files.calls}
    with open("kept/record.json", "w") as fh:
        json.dump(record, fh)
"""


@pytest.mark.skipif(
    not trampoline_available(),
    reason=f"Python frames are named on CPython 3.12+ (perf trampoline); this is {sys.version.split()[0]}",
)
@pytest.mark.usefixtures("needs_valgrind")
def test_on_python_3_12_the_regression_message_names_the_python_functions_that_grew(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_score=PY_WORKLOAD)
    pytester.makeconftest(KEEP_FILES)
    args = ("-p", "no:cacheprovider", "--causal-eval", "--causal-eval-mode=instructions")
    monkeypatch.setenv("WORDS", "400")
    saved = pytester.runpytest_subprocess(*args, "--causal-eval-save", "--causal-eval-baselines=bl")
    saved.assert_outcomes(passed=1)
    (baseline_file,) = (pytester.path / "bl").glob("*.json")
    (entry,) = json.loads(baseline_file.read_text())["measurements"].values()
    stored = {h["function"]: h for h in entry["profile"]["instruction_hotspots"]}
    assert {"py::score", "py::weight", "py::weight.<locals>.<genexpr>"} <= set(stored), sorted(stored)
    assert (stored["py::weight"]["object"], stored["py::weight"]["file"]) == ("python", "test_score.py")
    assert not {"py_trampoline_evaluator", "PyUnstable_Code_GetExtra"} & set(stored)

    # The count the gate compares never ran through the trampolines; the profile pass did.
    kept = pytester.path / "kept"
    perf_map = PerfMap.parse((kept / "profile.perf.map").read_text())
    count = name_python_frames(read_callgrind(kept / "count.callgrind"), perf_map)
    profile = name_python_frames(read_callgrind(kept / "profile.callgrind"), perf_map)
    assert not any(f.key.object == "python" for f in count.functions)
    assert not count.function("py_trampoline_evaluator")
    assert any(f.key.name == "py::weight" for f in profile.functions)
    record = json.loads((kept / "record.json").read_text())
    gated = (read_summary(kept / "count.callgrind").totals["Ir"] - record["overhead"]["Ir"]) / record["calls"]
    assert entry["metrics"]["instructions"]["value"] == pytest.approx(gated, rel=1e-5)  # stored rounded
    assert profile.total() / record["profile_calls"] > gated  # the trampolines' instructions

    monkeypatch.setenv("WORDS", "520")
    result = pytester.runpytest_subprocess(*args, "--causal-eval-baselines=bl")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*instructions * vs baseline * per call: +*% > 10% threshold*",
            "Python functions whose instructions (with callees) changed against the baseline, per call:",
            "  py::score (test_score.py)  with callees * -> * (+*)",
            "functions whose own instructions changed against the baseline, per call (biggest first):",
        ]
    )
    assert "  py::weight (test_score.py)  with callees " in result.stdout.str()
    result.stdout.fnmatch_lines(
        ["note: these figures come from a profile pass through CPython's perf trampoline*"]
    )
    assert "Python functions are not named" not in result.stdout.str()
