"""Sharding: parsing K/N, the stable hash, balancing by recorded durations, and the pytest runs."""

from __future__ import annotations

import json

import pytest

from pytest_causal_eval.results import Measurement, RunResults
from pytest_causal_eval.shard.assign import (
    Shard,
    assign_balanced,
    assign_hashed,
    durations_by_test,
    parse_shard,
)

IDS = [f"test_mod.py::test_{i}" for i in range(12)]


@pytest.mark.parametrize(
    ("text", "shard"), [("1/2", Shard(1, 2)), (" 3 / 3 ", Shard(3, 3)), ("1/1", Shard(1, 1))]
)
def test_parse_shard(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == f"{shard.index}/{shard.total}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/2", "the shard number K must be from 1 to 2, got '3/2'"),
        ("0/2", "the shard number K must be from 1 to 2, got '0/2'"),
        ("1/0", "the number of shards N must be at least 1"),
        ("two", "expected K/N such as 1/4"),
        ("-1/2", "expected K/N such as 1/4"),
    ],
)
def test_parse_shard_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_shard(text)


def test_hashed_assignment_is_stable_and_covers_every_shard() -> None:
    first = assign_hashed(IDS, 3)
    assert first == assign_hashed(list(reversed(IDS)), 3)  # independent of order
    assert first["test_mod.py::test_0"] == assign_hashed(["test_mod.py::test_0"], 3)["test_mod.py::test_0"]
    assert set(first.values()) == {1, 2, 3}


def test_balanced_assignment_is_longest_processing_time_first() -> None:
    durations = {"a": 8.0, "b": 7.0, "c": 6.0, "d": 5.0, "e": 4.0}
    out = assign_balanced(["e", "d", "c", "b", "a"], durations, 2)
    loads = {k: sum(durations[t] for t, s in out.items() if s == k) for k in (1, 2)}
    # LPT: a->1, b->2, c->2 (7<8), d->1 (8<13), e->1 or 2: 13 vs 13 -> shard 1
    assert out == {"a": 1, "b": 2, "c": 2, "d": 1, "e": 1}
    assert loads == {1: 17.0, 2: 13.0}


def test_unknown_tests_get_the_median_duration() -> None:
    out = assign_balanced(["big", "x", "y", "z"], {"big": 9.0, "gone": 1.0}, 2)
    # median of known durations among collected tests (9.0) is used for x, y, z
    assert out["big"] == 1 and sorted(out.values()) == [1, 1, 2, 2]


def test_durations_by_test_sums_named_measurements() -> None:
    results = RunResults(
        measurements=[
            Measurement(id="t1::a", test_id="t1", duration=1.0),
            Measurement(id="t1::b", test_id="t1", duration=2.0),
            Measurement(id="t2", test_id="t2", duration=0.5),
        ]
    )
    assert durations_by_test(results) == {"t1": 3.0, "t2": 0.5}


TESTS = "\n".join(f"def test_{i}():\n    pass\n" for i in range(12))
BASE = ("-p", "no:cacheprovider", "--causal-eval")


def selected(result: pytest.RunResult) -> set[str]:
    return {line.split(" ")[0] for line in result.outlines if line.startswith("test_mod.py::")}


def test_shards_partition_the_suite_and_report_deselected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod=TESTS)
    seen: list[set[str]] = []
    for k in (1, 2, 3):
        result = pytester.runpytest(*BASE, "--causal-eval-shard", f"{k}/3", "--collect-only", "-q")
        result.stdout.fnmatch_lines([f"*/12 tests collected ({12 - len(selected(result))} deselected)*"])
        seen.append(selected(result))
    assert set().union(*seen) == set(IDS)
    assert sum(len(s) for s in seen) == 12
    expected = assign_hashed(IDS, 3)
    assert seen[1] == {t for t, s in expected.items() if s == 2}


def test_shard_is_recorded_in_the_results_and_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod=TESTS)
    result = pytester.runpytest(*BASE, "--causal-eval-shard", "2/2", "--causal-eval-json", "out.json")
    result.stdout.fnmatch_lines(["causal-eval shard 2/2 (stable hash of the test id)"])
    kept = sum(1 for s in assign_hashed(IDS, 2).values() if s == 2)
    result.assert_outcomes(passed=kept, deselected=12 - kept)
    extra = json.loads((pytester.path / "out.json").read_text())["extra"]
    assert extra["shard"] == {
        "index": 2,
        "total": 2,
        "method": "hash",
        "selected": kept,
        "deselected": 12 - kept,
    }


def test_shards_balanced_by_recorded_durations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod=TESTS)
    durations = {IDS[0]: 10.0, IDS[1]: 9.0, IDS[2]: 1.0}
    results = RunResults(
        measurements=[Measurement(id=t, test_id=t, duration=d) for t, d in durations.items()]
    )
    (pytester.path / "prev.json").write_text(json.dumps(results.to_dict()))
    kept: list[set[str]] = []
    for k in (1, 2):
        args = ("--causal-eval-shard", f"{k}/2", "--causal-eval-shard-durations", "prev.json")
        result = pytester.runpytest(*BASE, *args, "--collect-only", "-q")
        kept.append(selected(result))
    assert IDS[0] in kept[0] and IDS[1] in kept[1]  # the two long tests are split
    assert kept[0] | kept[1] == set(IDS) and not kept[0] & kept[1]
    assert kept[0] == {t for t, s in assign_balanced(IDS, durations, 2).items() if s == 1}
    result = pytester.runpytest(*BASE, *args)
    result.stdout.fnmatch_lines(["causal-eval shard 2/2 (balanced by the durations in prev.json)"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--causal-eval-shard", "3/2"),
            "--causal-eval-shard: the shard number K must be from 1 to 2, got '3/2'",
        ),
        (
            ("--causal-eval-shard", "0/2"),
            "--causal-eval-shard: the shard number K must be from 1 to 2, got '0/2'",
        ),
        (("--causal-eval-shard", "half"), "--causal-eval-shard: expected K/N such as 1/4*"),
        (
            ("--causal-eval-shard", "1/2", "--causal-eval-shard-durations", "missing.json"),
            "--causal-eval-shard-durations: cannot read results file missing.json: No such file or directory",
        ),
        (
            ("--causal-eval-shard", "1/2", "--causal-eval-shard-durations", "bad.json"),
            "--causal-eval-shard-durations: results file bad.json is not valid JSON*",
        ),
        (
            ("--causal-eval-shard", "1/2", "--causal-eval-shard-durations", "binary.json"),
            "--causal-eval-shard-durations: results file binary.json is not UTF-8 text (byte 0xff at *",
        ),
        (
            ("--causal-eval-shard", "1/2", "--causal-eval-shard-durations", "dup.json"),
            "--causal-eval-shard-durations: results file dup.json: measurement id 'x' appears more than*",
        ),
        (
            ("--causal-eval-shard-durations", "bad.json"),
            "--causal-eval-shard-durations needs --causal-eval-shard K/N*",
        ),
    ],
)
def test_shard_usage_errors(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    pytester.makepyfile(test_mod=TESTS)
    (pytester.path / "bad.json").write_text("{nope")
    (pytester.path / "binary.json").write_bytes(b"\xff\xfe\x00\x81binary")
    dup = RunResults(measurements=[Measurement(id="x", test_id="x")] * 2)
    (pytester.path / "dup.json").write_text(json.dumps(dup.to_dict()))
    result = pytester.runpytest(*BASE, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_bad_durations_are_left_out_not_used(pytester: pytest.Pytester) -> None:
    """A NaN or negative duration must not decide the balance: its test counts as unknown."""
    pytester.makepyfile(test_mod=TESTS)
    durations = {IDS[0]: 10.0, IDS[1]: 9.0, IDS[2]: 1.0}
    data = RunResults(
        measurements=[Measurement(id=t, test_id=t, duration=d) for t, d in durations.items()]
    ).to_dict()
    data["measurements"][2]["duration"] = float("nan")
    (pytester.path / "prev.json").write_text(json.dumps(data))
    args = (
        "--causal-eval-shard",
        "1/2",
        "--causal-eval-shard-durations",
        "prev.json",
        "--collect-only",
        "-q",
    )
    result = pytester.runpytest(*BASE, *args)
    assert result.ret == 0
    known = {IDS[0]: 10.0, IDS[1]: 9.0}
    assert selected(result) == {t for t, s in assign_balanced(IDS, known, 2).items() if s == 1}


def test_sharding_is_inert_when_the_plugin_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mod=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--causal-eval-shard", "1/2", "-q")
    result.assert_outcomes(passed=12)
