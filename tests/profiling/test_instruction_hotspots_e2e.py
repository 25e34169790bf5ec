"""An instruction regression explained by callgrind's hotspots, as a user sees it (real valgrind)."""

from __future__ import annotations

import json

import pytest

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
    assert measured["extra"]["instruction_hotspots"][0]["function"] in ("unsafe_latin_compare", "merge_at")
