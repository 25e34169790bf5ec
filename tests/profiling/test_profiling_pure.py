"""Pure pieces of the profiling feature: parsers, names, hotspots, sites, diffs, fit, limits, tolerance."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_causal_eval.profiling.diff import (
    diff_hotspots,
    diff_sites,
    format_hotspot_change,
    format_share,
    format_site_change,
    hotspot_lines,
    site_lines,
)
from pytest_causal_eval.profiling.fit import growth_per_iteration
from pytest_causal_eval.profiling.hotspots import Hotspot, hotspots_from_tree, short_path
from pytest_causal_eval.profiling.limits import Limits, judge_limits, parse_limits
from pytest_causal_eval.profiling.names import artifact_stem, build_index, merge_index
from pytest_causal_eval.profiling.settings import parse_profile_mode, parse_rate, parse_size
from pytest_causal_eval.profiling.sites import AllocationSite, aggregate_sites
from pytest_causal_eval.profiling.stored import baseline_profile, restore_profile
from pytest_causal_eval.profiling.tolerance import memory_comparable


# -- settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "mode"), [("off", "off"), ("CPU", "cpu"), (" memory ", "memory"), ("all", "all")]
)
def test_profile_mode_accepts_the_four_modes(text: str, mode: str) -> None:
    assert parse_profile_mode(text) == mode


def test_profile_mode_rejects_others_naming_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="off, cpu, memory, all"):
        parse_profile_mode("gpu")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200 MB", 200 * 1024**2),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("512 KB", 512 * 1024),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1 MB", "0", "10 parsecs", True, ""])
def test_parse_size_rejects_nonsense(text: object) -> None:
    with pytest.raises(ValueError, match="expected a"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1 KB/iter", 1024.0), ("256 B/iter", 256.0), ("2KB / call", 2048.0), ("100", 100.0)],
)
def test_parse_rate(text: str, expected: float) -> None:
    assert parse_rate(text) == expected


def test_parse_rate_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="1 KB/iter"):
        parse_rate("fast/iter")


# -- names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mid",
    [
        "tests/test_a.py::test_x[../../etc/passwd]",
        "t.py::test[a b/c]",
        "t.py::test[\u00e9\u6f22\u5b57]",
        "..",
        "/",
        "t.py::test[\\x00]",
        "a" * 500,
    ],
)
def test_artifact_stem_is_a_safe_single_file_name(mid: str) -> None:
    stem = artifact_stem(mid)
    assert stem.isascii()
    assert "/" not in stem and "\\" not in stem and ".." not in stem and " " not in stem
    assert not stem.startswith(".")
    assert len(stem) <= 92


def test_artifact_stem_is_unique_per_id_and_stable() -> None:
    assert artifact_stem("t.py::test[a/b]") != artifact_stem("t.py::test[a b]")
    assert artifact_stem("t.py::test[a/b]") == artifact_stem("t.py::test[a/b]")
    assert artifact_stem("t.py::test[a/b]").startswith("t.py_test_a_b-")


def test_index_maps_files_back_to_ids_and_merges_earlier_runs() -> None:
    first = build_index([("t::a", {"cpu_html": "a.cpu.html"}), ("t::b", {"cpu_html": "b.cpu.html"})])
    assert first["files"] == {"a.cpu.html": "t::a", "b.cpu.html": "t::b"}
    second = build_index([("t::a", {"speedscope": "a.speedscope.json"})])
    merged = merge_index(first, second)
    assert merged["files"] == {"b.cpu.html": "t::b", "a.speedscope.json": "t::a"}
    assert merged["measurements"]["t::a"] == {"speedscope": "a.speedscope.json"}
    assert merge_index({"garbage": 1}, second) == second
    assert merge_index(None, second) == second


# -- hotspots ---------------------------------------------------------------------------------------
@dataclass
class FakeFrame:
    function: str
    file_path: str | None
    line_no: int | None
    time: float
    children: list[FakeFrame] = field(default_factory=list)
    is_synthetic: bool = False


def test_hotspots_aggregate_self_and_total_share_without_double_counting_recursion() -> None:
    leaf = FakeFrame("score", "/proj/engine/ev.py", 10, 4.0)
    rec_inner = FakeFrame(
        "walk", "/proj/engine/tree.py", 5, 2.0, [FakeFrame("[self]", None, None, 2.0, [], True)]
    )
    rec_outer = FakeFrame("walk", "/proj/engine/tree.py", 5, 3.0, [rec_inner])
    root = FakeFrame("run", "/proj/test_a.py", 1, 10.0, [leaf, rec_outer])
    spots = {h.function: h for h in hotspots_from_tree(root, ["/proj"])}
    assert spots["score"].self_share == pytest.approx(0.4)
    assert spots["score"].file == "engine/ev.py" and spots["score"].line == 10
    assert spots["walk"].total_share == pytest.approx(0.3)  # outer occurrence only
    assert spots["walk"].self_share == pytest.approx(0.3)  # 1.0 outer + 2.0 inner
    assert spots["run"].total_share == pytest.approx(1.0)
    assert spots["run"].self_share == pytest.approx(0.3)
    assert hotspots_from_tree(root, ["/proj"])[0].function == "score"


def test_hotspots_skip_harness_frames_but_keep_their_callees() -> None:
    work = FakeFrame("work", "/proj/w.py", 3, 5.0)
    harness = FakeFrame("profile_cpu", "/pkg/profiling/cpu.py", 40, 5.0, [work])
    spots = hotspots_from_tree(harness, ["/proj"], exclude=["/pkg/profiling"])
    assert [h.function for h in spots] == ["work"]
    assert spots[0].self_share == pytest.approx(1.0)
    assert hotspots_from_tree(FakeFrame("x", "/a.py", 1, 0.0), []) == []


def test_short_path_is_machine_independent() -> None:
    assert short_path("/home/u/proj/engine/e.py", ["/home/u/proj"]) == "engine/e.py"
    assert short_path("/venv/lib/python3.11/site-packages/numpy/core/x.py", ["/venv"]) == "numpy/core/x.py"
    assert short_path("/proj/.venv/lib/site-packages/torch/a.py", ["/proj"]) == "torch/a.py"
    assert short_path("/elsewhere/x.py", ["/proj"]) == "/elsewhere/x.py"
    assert short_path(None, []) == "?"


def test_hotspot_roundtrips_through_dict() -> None:
    h = Hotspot("f", "a.py", 3, 0.25, 0.5)
    assert Hotspot.from_dict(h.to_dict()) == h


# -- sites ------------------------------------------------------------------------------------------
def test_aggregate_sites_attributes_to_innermost_non_harness_frame() -> None:
    records = [
        ([("grow", "/proj/c.py", 8), ("run", "/proj/t.py", 2)], 1000, 10),
        ([("grow", "/proj/c.py", 9), ("run", "/proj/t.py", 2)], 3000, 5),
        ([("loop", "/pkg/profiling/leak.py", 50)], 999_999, 1),  # the harness alone: dropped
        ([("<listcomp>", "/proj/t.py", 4), ("x", "/pkg/profiling/memory.py", 1)], 500, 1),
        ([], 7, 1),
    ]
    sites = aggregate_sites(records, ["/proj"], exclude=["/pkg/profiling"])
    assert [(s.file, s.function, s.size, s.count) for s in sites] == [
        ("c.py", "grow", 4000, 15),
        ("t.py", "<listcomp>", 500, 1),
        ("?", "<unknown>", 7, 1),
    ]
    assert sites[0].line == 9  # the line with the most bytes
    assert AllocationSite.from_dict(sites[0].to_dict()) == sites[0]


# -- diffs ------------------------------------------------------------------------------------------
def test_hotspot_diff_ranks_by_moved_self_share_and_matches_moved_lines() -> None:
    base = [
        Hotspot("score_batch", "engine/evaluator.py", 140, 0.18, 0.30),
        Hotspot("parse", "p.py", 1, 0.40, 0.4),
    ]
    now = [
        Hotspot("score_batch", "engine/evaluator.py", 142, 0.41, 0.52),
        Hotspot("parse", "p.py", 1, 0.399, 0.399),
        Hotspot("new_fn", "n.py", 7, 0.05, 0.05),
    ]
    changes = diff_hotspots(now, base)
    assert [c.function for c in changes] == ["score_batch", "new_fn"]  # parse moved < 1 pt
    assert changes[0].points == pytest.approx(23.0)
    assert format_hotspot_change(changes[0]) == (
        "engine/evaluator.py:142 score_batch  18% -> 41% (+23 pts self; total 30% -> 52%)"
    )
    assert format_hotspot_change(changes[1]).startswith("n.py:7 new_fn  - -> 5.0% (+5 pts self")


def test_hotspot_diff_with_times_ranks_by_contribution_in_absolute_time() -> None:
    # 10 ms -> 20 ms per call. "steady" keeps its 50% share but adds 5 ms; "grown" gains 10 points
    # of share but adds only 2.2 ms; by share "grown" would come first.
    base = [Hotspot("steady", "s.py", 1, 0.50, 0.5), Hotspot("grown", "g.py", 1, 0.10, 0.1)]
    now = [Hotspot("steady", "s.py", 1, 0.50, 0.5), Hotspot("grown", "g.py", 1, 0.21, 0.21)]
    assert [c.function for c in diff_hotspots(now, base)] == ["grown"]
    changes = diff_hotspots(now, base, times=(0.010, 0.020))
    assert [c.function for c in changes] == ["steady", "grown"]
    assert changes[0].seconds == pytest.approx(0.005)
    assert format_hotspot_change(changes[0]) == (
        "s.py:1 steady  +5.00 ms self time; 50% -> 50% (+0 pts self; total 50% -> 50%)"
    )
    lines = hotspot_lines(now, base, times=(0.010, 0.020))
    assert lines[0] == (
        "hotspot changes against the baseline (biggest contribution to the change in time per call first):"
    )


def test_hotspot_diff_lists_functions_that_vanished() -> None:
    changes = diff_hotspots([], [Hotspot("gone", "g.py", 1, 0.3, 0.3)])
    assert changes[0].after_self is None and changes[0].points == pytest.approx(-30.0)


def test_format_share() -> None:
    assert (format_share(0.41), format_share(0.042), format_share(None), format_share(0.0)) == (
        "41%",
        "4.2%",
        "-",
        "0%",
    )


def test_site_diff_and_format() -> None:
    base = [AllocationSite("put", "engine/cache.py", 88, 1024 * 1024, 120)]
    now = [
        AllocationSite("put", "engine/cache.py", 90, 10 * 1024 * 1024, 960),
        AllocationSite("same", "s.py", 1, 0, 0),
    ]
    changes = diff_sites(now, base)
    assert len(changes) == 1
    assert format_site_change(changes[0]) == (
        "engine/cache.py:90 put  1.00 MiB -> 10.0 MiB (+9.00 MiB; 120 -> 960 allocations)"
    )
    shrink = diff_sites([], base)[0]
    assert format_site_change(shrink).startswith("engine/cache.py:88 put  1.00 MiB -> - (-1.00 MiB")


def test_explanation_text_without_baseline_data_lists_current_top() -> None:
    now = [Hotspot("hot", "h.py", 2, 0.6, 0.9)]
    lines = hotspot_lines(now, None)
    assert "stores no hotspots" in lines[0] and "h.py:2 hot  self 60%, total 90%" in lines[1]
    assert "moved by 1 point" in hotspot_lines(now, now)[0]
    assert "no CPU samples" in hotspot_lines([], now)[0]
    sites = [AllocationSite("f", "a.py", 1, 2048, 2)]
    assert site_lines(sites, None)[1] == "  a.py:1 f  2.00 KiB in 2 allocations"
    bigger = [AllocationSite("f", "a.py", 1, 4096, 4)]
    assert site_lines(bigger, sites)[1].startswith("  a.py:1 f  2.00 KiB -> 4.00 KiB (+2.00 KiB")


# -- leak fit ---------------------------------------------------------------------------------------
def test_growth_per_iteration_is_the_least_squares_slope() -> None:
    assert growth_per_iteration([100, 1124, 2148, 3172]) == pytest.approx(1024.0)
    assert growth_per_iteration([500, 500, 500]) == 0.0
    assert growth_per_iteration([0, 2, 1, 3]) == pytest.approx(0.8)
    assert growth_per_iteration([5]) == 0.0


# -- limits -----------------------------------------------------------------------------------------
def test_parse_limits_names_the_marker_argument() -> None:
    assert parse_limits({"memory_limit": "1 MB", "leak_limit": "1 KB/iter"}) == Limits(1024**2, 1024.0)
    assert parse_limits({}) == Limits()
    with pytest.raises(ValueError, match=r"memory_limit=\.\.\.\): expected a size"):
        parse_limits({"memory_limit": "huge"})
    with pytest.raises(ValueError, match=r"leak_limit=\.\.\.\)"):
        parse_limits({"leak_limit": "x"})


def test_judge_limits_reports_the_top_sites() -> None:
    memory = {
        "backend": "memray",
        "peak": 3 * 1024**2,
        "sites": [{"function": "big", "file": "b.py", "line": 4, "size": 3 * 1024**2, "count": 1}],
        "leak": {
            "per_iter": 2048.0,
            "iterations": 10,
            "sites": [{"function": "keep", "file": "k.py", "line": 9, "size": 20480, "count": 10}],
        },
    }
    msgs = judge_limits(Limits(memory=1024**2, leak=1024.0), memory, "t::x")
    text = "\n".join(msgs)
    assert "peak memory 3.00 MiB exceeds memory_limit 1.00 MiB (memray)" in text
    assert "b.py:4 big  3.00 MiB in 1 allocations" in text
    assert "retains 2.00 KiB per call" in text and "k.py:9 keep" in text
    assert judge_limits(Limits(memory=4 * 1024**2, leak=4096.0), memory, "t::x") == []
    assert judge_limits(Limits(), None, "t::x") == []
    assert "could not be checked" in judge_limits(Limits(memory=1), None, "t::x")[0]


# -- tolerance and stored profile -------------------------------------------------------------------
def test_memory_metrics_compare_only_within_one_backend() -> None:
    assert memory_comparable("memray", "memray") and not memory_comparable("memray", "tracemalloc")
    assert not memory_comparable(None, None)


def test_baseline_profile_keeps_diffable_data_and_restores() -> None:
    extra = {
        "hotspots": [{"function": "f", "file": "a.py", "line": 1, "self": 0.5, "total": 0.5}],
        "memory": {
            "backend": "memray",
            "peak": 10,
            "sites": [],
            "leak": {"per_iter": 1.0, "retained": [1, 2]},
        },
        "verdict": {"verdict": "pass"},
    }
    stored = baseline_profile(extra)
    assert set(stored) == {"hotspots", "memory"}
    assert "retained" not in stored["memory"]["leak"]
    assert restore_profile({"profile": stored}) == stored
    assert restore_profile({}) == {} and baseline_profile({}) == {}


def test_package_parents_reads_no_lazy_attribute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import types

    from pytest_causal_eval.profiling.feature import _package_parents

    touched: list[str] = []

    def lazy_getattr(name: str) -> object:
        touched.append(name)
        raise ModuleNotFoundError("No module named 'torch'")

    lazy = types.ModuleType("lazy_pkg")
    lazy.__getattr__ = lazy_getattr  # type: ignore[method-assign]
    real = types.ModuleType("real_pkg")
    real.__path__ = [str(tmp_path / "site" / "real_pkg")]
    monkeypatch.setitem(sys.modules, "lazy_pkg", lazy)
    monkeypatch.setitem(sys.modules, "real_pkg", real)
    monkeypatch.setitem(sys.modules, "blocked_pkg", None)  # type: ignore[arg-type]
    parents = _package_parents()
    assert touched == []
    assert str(tmp_path / "site") in parents
