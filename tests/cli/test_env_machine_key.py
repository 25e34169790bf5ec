"""``causal-eval env`` prints this machine's key: the one a saved baseline is named after, the one
``baselines show`` lists and ``--causal-eval-machine`` takes."""

from __future__ import annotations

import json

import pytest
from fakeclock import FAKE_CLOCK_SOURCE

from pytest_causal_eval.cli import main
from pytest_causal_eval.cli.env import render_env

# The workload moves a fake clock by the same 1 ms every call: the second run is judged against the
# save on the key, never on how busy the machine happens to be.
TEST = """
def test_work(causal_bench, fake_timer):
    causal_bench(lambda: fake_timer.tick(1_000_000))
"""


def env_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["env", "--json", "--sample", "off"]) == 0
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_env_prints_the_key_a_saved_baseline_is_named_after(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeconftest(FAKE_CLOCK_SOURCE)
    pytester.makepyfile(test_key=TEST)
    baselines = pytester.path / "baselines"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--causal-eval", "--causal-eval-save", "--causal-eval-max-time", "20ms",
        "--causal-eval-json", "out.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    [saved] = sorted(baselines.glob("*.json"))
    capsys.readouterr()

    machine = env_json(capsys)["machine"]
    assert isinstance(machine, dict)
    assert machine["key"] == saved.stem
    assert json.loads(saved.read_text())["machine"]["key"] == machine["key"]
    assert json.loads((pytester.path / "out.json").read_text())["extra"]["machine"]["key"] == machine["key"]

    assert main(["env", "--sample", "off"]) == 0
    text = capsys.readouterr().out
    assert f"  key       {saved.stem}  (baseline file baselines/{saved.stem}.json)" in text.splitlines()

    assert main(["baselines", "show", "--baselines", str(baselines)]) == 0
    assert capsys.readouterr().out.startswith(f"{machine['key']}: 1 measurement(s)")
    assert main(["baselines", "show", str(machine["key"]), "--baselines", str(baselines)]) == 0
    assert "test_key.py::test_work: median" in capsys.readouterr().out

    # and --causal-eval-machine with that key compares against that very file
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--causal-eval", "--causal-eval-max-time", "20ms",
        "--causal-eval-machine", str(machine["key"]), "--causal-eval-json", "again.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    again = json.loads((pytester.path / "again.json").read_text())
    [measured] = again["measurements"]
    assert set(measured["samples"]) == {1e-3}  # the fake clock's rounds: no real time was judged
    verdict = measured["extra"]["verdict"]
    assert verdict["baseline"] == saved.stem
    assert verdict["verdict"] == "pass", verdict


def test_render_env_without_a_machine_block_still_renders() -> None:
    lines = render_env({}, {"cpus": 2}, [])
    assert lines[0] == "environment" and not any(line.startswith("machine") for line in lines)
