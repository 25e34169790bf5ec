"""``causal-eval merge``: joining shard results, refusing different machines and duplicate ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_causal_eval.cli import main
from pytest_causal_eval.results import Measurement, RunResults
from pytest_causal_eval.shard.merge import MergeError, machine_key, merge_results

ENV: dict[str, Any] = {
    "python": {"implementation": "CPython", "version": "3.11.9"},
    "platform": {"system": "Linux", "machine": "x86_64"},
    "cpu": {"model": "Test CPU 3000", "logical_cores": 8},
    "packages": {"torch": None},
}


def results(
    ids: list[str], shard: tuple[int, int] | None = None, cpu: str = "Test CPU 3000", **verdicts: str
) -> RunResults:
    env = json.loads(json.dumps(ENV))
    env["cpu"]["model"] = cpu
    ms = []
    for mid in ids:
        extra: dict[str, Any] = {"passed": True}
        if mid in verdicts:
            extra["verdict"] = {"verdict": verdicts[mid], "metric": "time", "change": 0.3, "threshold": "10%"}
        ms.append(Measurement(id=mid, test_id=mid, samples=[1.0, 1.1, 0.9], extra=extra, duration=1.0))
    extra_r: dict[str, Any] = {"shard": {"index": shard[0], "total": shard[1]}} if shard else {}
    return RunResults(measurements=ms, environment=env, tool_version="0.1.0", extra=extra_r)


def write(path: Path, r: RunResults) -> str:
    path.write_text(json.dumps(r.to_dict()))
    return str(path)


def test_merge_joins_shards_in_id_order() -> None:
    merged = merge_results([("a.json", results(["t2", "t3"], (1, 2))), ("b.json", results(["t1"], (2, 2)))])
    assert [m.id for m in merged.results.measurements] == ["t1", "t2", "t3"]
    assert merged.notes == []
    sources = merged.results.extra["merged"]["sources"]
    assert [(s["file"], s["shard"], s["measurements"]) for s in sources] == [
        ("a.json", "1/2", 2),
        ("b.json", "2/2", 1),
    ]
    assert machine_key(merged.results) == machine_key(results([]))


def test_missing_and_repeated_shards_are_noted() -> None:
    merged = merge_results([("a", results(["t1"], (1, 3))), ("b", results(["t2"], (1, 3)))])
    assert "shard 1/3 appears twice (a and b)" in merged.notes
    assert "missing shard(s): 2/3, 3/3 (their tests are not in the merged results)" in merged.notes


def test_different_machine_keys_are_refused_naming_the_keys() -> None:
    a, b = results(["t1"]), results(["t2"], cpu="Other CPU")
    with pytest.raises(MergeError) as info:
        merge_results([("a.json", a), ("b.json", b)])
    text = str(info.value)
    assert f"a.json was measured on {machine_key(a)}, b.json on {machine_key(b)}" in text
    assert "cpu_model: 'Test CPU 3000' vs 'Other CPU'" in text


def test_duplicates_are_refused_unless_allowed_then_pooled_with_the_worst_verdict() -> None:
    a = results(["t1", "t2"], t1="pass")
    b = results(["t1"], t1="regressed")
    with pytest.raises(
        MergeError, match=r"1 measurement id\(s\) appear in more than one file: t1 \(in a, b\)"
    ):
        merge_results([("a", a), ("b", b)])
    merged = merge_results([("a", a), ("b", b)], allow_duplicates=True)
    t1 = merged.results.measurements[0]
    assert t1.samples == [1.0, 1.1, 0.9, 1.0, 1.1, 0.9]
    assert t1.extra["verdict"]["verdict"] == "regressed"
    assert any("pooled" in n for n in merged.notes)


def test_merge_cli_writes_results_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", results(["t1"], (1, 2), t1="pass"))
    b = write(tmp_path / "b.json", results(["t2"], (2, 2), t2="regressed"))
    out, md = tmp_path / "out" / "all.json", tmp_path / "all.md"
    code = main(["merge", a, b, "-o", str(out), "--markdown", str(md)])
    assert code == 1  # a shard's verdicts include a regression
    printed = capsys.readouterr().out
    assert f"merged 2 measurement(s) from 2 file(s) into {out}" in printed
    assert "verdicts: 1 regressed, 1 pass" in printed
    doc = RunResults.from_dict(json.loads(out.read_text()))
    assert [m.id for m in doc.measurements] == ["t1", "t2"]
    text = md.read_text()
    assert "merged results of 2 file(s)" in text and "`t2`" in text


def test_merge_cli_exit_zero_when_nothing_regressed(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", results(["t1"]))
    b = write(tmp_path / "b.json", results(["t2"]))
    assert main(["merge", a, b, "-o", str(tmp_path / "m.json")]) == 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: [write(p / "a.json", results(["t1"])), write(p / "b.json", results(["t1"]))],
            "appear in more than one file",
        ),
        (
            lambda p: [write(p / "a.json", results(["t1"])), write(p / "b.json", results(["t2"], cpu="X"))],
            "machine keys differ",
        ),
        (lambda p: [write(p / "a.json", results(["t1"])), str(p / "none.json")], "cannot read results file"),
        (
            lambda p: [write(p / "a.json", results(["t1"])), str(p / "a.json")],
            "the same results file is given twice",
        ),
    ],
)
def test_merge_cli_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    inputs = make(tmp_path)
    out = tmp_path / "m.json"
    assert main(["merge", *inputs, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written


def test_merge_refuses_to_overwrite_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", results(["t1"]))
    assert main(["merge", a, "-o", a]) == 2
    assert "is also an input" in capsys.readouterr().err


def test_merge_uses_the_key_the_plugin_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The plugin's key comes from the live process (thread variables included); merge computed
    another one from the environment block for the same machine."""
    from pytest_causal_eval.baseline.plugin import live_environment
    from pytest_causal_eval.environment.fingerprint import collect_environment, fingerprint_from_environment

    live = fingerprint_from_environment(live_environment())
    recorded = {**live.to_dict(), "key": live.key}
    shards = []
    for index, mid in ((1, "t1"), (2, "t2")):
        r = RunResults(
            measurements=[Measurement(id=mid, test_id=mid, samples=[1.0, 1.1, 0.9])],
            environment=collect_environment(),
            extra={"machine": recorded, "shard": {"index": index, "total": 2}},
        )
        shards.append(write(tmp_path / f"s{index}.json", r))
    out = tmp_path / "m.json"
    assert main(["merge", *shards, "-o", str(out)]) == 0
    merged = RunResults.from_dict(json.loads(out.read_text()))
    assert machine_key(merged) == live.key
    # a file without the recorded fingerprint (older, or hand-made) gets the same key from its environment
    del merged.extra["machine"]
    assert machine_key(merged) == live.key


def test_merge_refuses_bad_numbers_naming_file_measurement_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path / "a.json", results(["t1", "t2"]))
    doc = results(["t1"]).to_dict()
    doc["measurements"][0]["samples"][1] = float("nan")
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(doc))
    out = tmp_path / "m.json"
    assert main(["merge", a, str(nan), "-o", str(out), "--allow-duplicates"]) == 2
    err = capsys.readouterr().err
    assert f"results file {nan}: measurement 't1': samples[1] is nan" in err
    assert not out.exists()


def test_merge_never_writes_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = results(["t1"]).to_dict()
    doc["measurements"][0]["extra"]["verdict"] = {"verdict": "inconclusive", "change": float("nan")}
    a = tmp_path / "a.json"
    a.write_text(json.dumps(doc))
    b = write(tmp_path / "b.json", results(["t1"]))
    out = tmp_path / "m.json"
    assert main(["merge", str(a), b, "-o", str(out), "--allow-duplicates"]) == 2
    assert "not JSON (NaN or Infinity) at measurements[0].extra.verdict.change" in capsys.readouterr().err
    assert not out.exists()


def limited(r: RunResults, limit: str) -> RunResults:
    r.extra["baseline"] = {"max_foreign_load": limit, "errors": [], "notes": []}
    return r


def test_merge_keeps_the_foreign_load_limit_the_sessions_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_causal_eval.cli.compare import max_foreign_load

    a = write(tmp_path / "a.json", limited(results(["t1"], (1, 2)), "50%"))
    b = write(tmp_path / "b.json", limited(results(["t2"], (2, 2)), "50%"))
    out = tmp_path / "all.json"
    assert main(["merge", a, b, "-o", str(out)]) == 0
    assert "foreign-load" not in capsys.readouterr().out
    merged = RunResults.from_dict(json.loads(out.read_text()))
    assert merged.extra["baseline"] == {"max_foreign_load": "50%"}
    assert max_foreign_load(None, merged) == 0.5  # what `compare` judges the merged file by, not 25%


def test_merge_of_disagreeing_limits_keeps_the_strictest_and_says_so() -> None:
    merged = merge_results(
        [
            ("a", limited(results(["t1"], (1, 3)), "off")),
            ("b", limited(results(["t2"], (2, 3)), "40%")),
            ("c", limited(results(["t3"], (3, 3)), "10%")),
        ]
    )
    assert merged.results.extra["baseline"] == {"max_foreign_load": "10%"}
    assert merged.notes == [
        "the files recorded different foreign-load limits (a: off, b: 40%, c: 10%); "
        "the merged results keep the strictest, 10%"
    ]
    everything_off = merge_results([("a", limited(results(["t1"]), "off")), ("b", results(["t2"]))])
    assert everything_off.results.extra["baseline"] == {"max_foreign_load": "off"}
    assert everything_off.notes == []  # a file that recorded no limit (an older one) takes no part
    assert "baseline" not in merge_results([("a", results(["t1"]))]).results.extra


def test_merge_refuses_a_limit_that_is_not_one_naming_the_file() -> None:
    with pytest.raises(MergeError, match=r"^b: .*max_foreign_load"):
        merge_results([("a", results(["t1"])), ("b", limited(results(["t2"]), "lots"))])
