"""A gate that is off must not look green: faults, other machines' baselines, bad entries, a save
that fails or is interrupted, through pytester as a user meets them."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

ARGS = (
    "-p",
    "no:cacheprovider",
    "--causal-eval",
    "--causal-eval-max-time",
    "50ms",
    "--causal-eval-warmup",
    "off",
    "--causal-eval-history",
    "off",
    "--causal-eval-health-sample",
    "off",
    "--causal-eval-profile-on-regression",
    "no",
)
TOP = "*-- causal-eval verdicts --*"


def save(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*ARGS, "--causal-eval-save")
    result.assert_outcomes(passed=3)
    assert result.ret == 0 and "causal-eval: error" not in result.stdout.str()


def baseline_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "baselines").glob("*.json"))


@pytest.fixture
def gate(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    return project


def verdict_section(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "causal-eval verdicts" in line)
    return lines[start + 1 :]


def edit_baseline(pytester: pytest.Pytester, change: Any) -> Path:
    [path] = baseline_files(pytester)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def test_an_unreadable_baseline_fails_under_ci_or_strict_and_is_said_first(
    gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(gate)
    [path] = baseline_files(gate)
    path.write_text('{"schema_version": 1, "measurements": {"a": ')  # a killed writer's half file
    local = gate.runpytest(*ARGS)
    local.assert_outcomes(passed=3)
    assert local.ret == 0  # locally a warning ...
    section = verdict_section(local)
    assert section[0].startswith(
        f"causal-eval: error: baseline file {path}: is not valid JSON"
    )  # ... said first
    strict = gate.runpytest(*ARGS, "--causal-eval-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        [TOP, "causal-eval: error: baseline file *", "causal-eval: the baseline gate did not run as asked*"]
    )
    monkeypatch.setenv("CI", "true")
    ci = gate.runpytest(*ARGS)
    assert ci.ret == pytest.ExitCode.TESTS_FAILED
    ci.stdout.fnmatch_lines(
        ["causal-eval: the baseline gate did not run as asked (CI=true): the session fails"]
    )


def test_a_failed_save_fails_under_ci(gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    (gate.path / "baselines").write_text("a file where the directory should be")
    local = gate.runpytest(*ARGS, "--causal-eval-save")
    local.assert_outcomes(passed=3)
    assert local.ret == 0
    assert verdict_section(local)[0].startswith("causal-eval: error: could not save the baseline to ")
    monkeypatch.setenv("CI", "true")
    ci = gate.runpytest(*ARGS, "--causal-eval-save")
    assert ci.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in ci.stdout.str() + ci.stderr.str()


def test_only_another_machines_baseline_is_a_warning_failing_under_strict_only(
    gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(gate)
    [path] = baseline_files(gate)

    def elsewhere(doc: dict[str, Any]) -> None:
        doc["machine"]["hard"]["cpu_model"] = "Other CPU 9000"
        doc["machine"]["key"] = "other-runner"

    edit_baseline(gate, elsewhere)
    path.rename(path.with_name("other-runner.json"))
    monkeypatch.setenv("CI", "true")  # a new runner type in CI is normal: not a fault
    result = gate.runpytest(*ARGS)
    assert result.ret == 0
    section = verdict_section(result)
    assert section[0].startswith("causal-eval: warning: no baseline for this machine (key ")
    assert "nothing was compared; baselines exist for other-runner (differs in cpu_model" in section[0]
    strict = gate.runpytest(*ARGS, "--causal-eval-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(
        ["causal-eval: no baseline of this machine was compared (--causal-eval-strict)*"]
    )


def test_a_file_of_this_key_recorded_on_another_machine_is_a_warning(gate: pytest.Pytester) -> None:
    save(gate)
    edit_baseline(gate, lambda doc: doc["machine"]["hard"].update(cpu_model="Other CPU 9000"))
    result = gate.runpytest(*ARGS)
    assert result.ret == 0
    assert verdict_section(result)[0].startswith("causal-eval: warning: refusing to compare with ")
    assert gate.runpytest(*ARGS, "--causal-eval-strict").ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (("--causal-eval-save",), "", "ERROR: --causal-eval-save needs --causal-eval*"),
        ((), "causal_eval_save = true", "ERROR: ini option causal_eval_save needs --causal-eval*"),
        (
            ("--causal-eval", "--causal-eval-force-save"),
            "",
            "ERROR: --causal-eval-force-save only applies with --causal-eval-save",
        ),
        (
            ("--causal-eval", "--causal-eval-save", "--causal-eval-machine", "k" * 300),
            "",
            "ERROR: --causal-eval-machine: a machine key names a file and may have at most 128 characters*",
        ),
    ],
    ids=["save without causal-eval", "ini save without causal-eval", "force without save", "long key"],
)
def test_usage_errors(gate: pytest.Pytester, args: tuple[str, ...], ini: str, message: str) -> None:
    if ini:
        gate.makeini(f"[pytest]\n{ini}\n")
    result = gate.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (gate.path / "baselines").exists()


def test_a_newer_schema_is_refused_for_saving_and_nothing_moves(gate: pytest.Pytester) -> None:
    save(gate)

    def newer(doc: dict[str, Any]) -> None:
        doc["schema_version"] = 2
        doc["tool_version"] = "0.7.0"

    path = edit_baseline(gate, newer)
    before = path.read_text()
    result = gate.runpytest(*ARGS, "--causal-eval-save")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            TOP,
            "causal-eval: error: could not save the baseline: baseline file *: schema_version 2 (written by "
            "pytest-causal-eval 0.7.0) is newer than this pytest-causal-eval understands (1); upgrade "
            "pytest-causal-eval; nothing was changed",
        ]
    )
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_saving_over_another_machines_file_is_refused_unless_forced(gate: pytest.Pytester) -> None:
    save(gate)
    [mine] = baseline_files(gate)
    doc = json.loads(mine.read_text())
    doc["machine"]["hard"]["cpu_model"] = "Other CPU 9000"
    doc["machine"]["key"] = "other"
    doc["measurements"] = {"theirs.py::test_x": doc["measurements"]["test_gate.py::test_plain"]}
    other = mine.with_name("other.json")
    other.write_text(json.dumps(doc))
    before = other.read_text()
    result = gate.runpytest(*ARGS, "--causal-eval-save", "--causal-eval-machine", "other")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            TOP,
            "causal-eval: error: could not save the baseline: baseline file *other.json: it holds the "
            "baseline of another machine (stored vs this machine: cpu_model: 'Other CPU 9000' vs *); "
            "refusing to save this machine's measurements into it; pass --causal-eval-force-save to save*",
        ]
    )
    assert other.read_text() == before
    forced = gate.runpytest(
        *ARGS, "--causal-eval-save", "--causal-eval-machine", "other", "--causal-eval-force-save"
    )
    assert forced.ret == 0
    forced.stdout.fnmatch_lines(
        ["note: --causal-eval-force-save: *other.json now holds this machine's fingerprint*"]
    )
    saved = json.loads(other.read_text())
    assert saved["machine"]["hard"]["cpu_model"] != "Other CPU 9000"
    assert "theirs.py::test_x" in saved["measurements"]  # its entries are kept


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("median", "fast", "time.summary.median is 'fast'"),
        ("median", None, "time.summary.median is None"),
        ("samples", True, "time.samples[0] is True"),
        ("samples", float("inf"), "time.samples[0] is inf"),
        ("samples", 0.0, "time.samples[0] is 0.0"),
        ("samples", -1e-3, "time.samples[0] is -0.001"),
        ("samples", 1e-320, "time.samples[0] is 1e-320"),
    ],
)
def test_a_bad_entry_is_named_never_gated_and_the_rest_still_gates(
    gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, field: str, value: Any, shown: str
) -> None:
    save(gate)

    def spoil(doc: dict[str, Any]) -> None:
        time_block = doc["measurements"]["test_gate.py::test_plain"]["time"]
        if field == "median":
            time_block["samples"] = []
            time_block["summary"]["median"] = value
        else:
            time_block["samples"] = [value] * len(time_block["samples"])

    path = edit_baseline(gate, spoil)
    monkeypatch.setenv("FAKE_SLOWDOWN", "1.3")
    result = gate.runpytest(*ARGS, "--causal-eval-json", "out.json", "-k", "plain or accuracy")
    result.assert_outcomes(passed=1, failed=1, deselected=1)  # test_accuracy still regresses
    result.stdout.fnmatch_lines(["*_ test_accuracy _*", "*[[]causal-eval: regressed[]]"])
    section = verdict_section(result)
    assert section[0] == (
        f"causal-eval: error: baseline file {path}: measurement 'test_gate.py::test_plain': {shown}: "
        f"expected a positive number of seconds (1e-12 to 1e+07); not used for gating"
    )
    out = {
        m["id"]: m["extra"]["verdict"]
        for m in json.loads((gate.path / "out.json").read_text())["measurements"]
    }
    assert out["test_gate.py::test_plain"]["message"].startswith(
        "not compared: its baseline entry holds a bad number (time."
    )
    assert "Traceback" not in result.stdout.str()
    # the next save replaces the bad entry it measured and keeps the others as they were
    monkeypatch.delenv("FAKE_SLOWDOWN")
    saved = gate.runpytest(*ARGS, "--causal-eval-save")
    saved.stdout.fnmatch_lines(["note: replaced 1 baseline entry that held a bad number"])
    assert "causal-eval: error" not in saved.stdout.str()


def test_ctrl_c_during_a_save_is_said_plainly(gate: pytest.Pytester) -> None:
    save(gate)
    [path] = baseline_files(gate)
    before = path.read_text()
    gate.makeconftest(
        (gate.path / "conftest.py").read_text()
        + """

import signal as _signal
import pytest_causal_eval.baseline.store as _store


def _interrupted(path, text):
    # The user's Ctrl-C, in the middle of the save: raised in this very thread, with SIGINT unblocked
    # and Python's handler in place, so it interrupts here whatever mask and disposition this process
    # inherited. (os.kill to the process lets the kernel hand it to another thread, or keep it pending
    # while the mask blocks it, and the save ran on.)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, [_signal.SIGINT])
    _signal.raise_signal(_signal.SIGINT)
    raise AssertionError("SIGINT did not interrupt")


_store.write_text_atomic = _interrupted
"""
    )
    # Started as some runners and job controls start us: SIGINT blocked, which the child inherits.
    inherited = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        result = gate.runpytest_subprocess(*ARGS, "--causal-eval-save")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, inherited)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [TOP, f"causal-eval: error: the save was interrupted (Ctrl-C): *{path.name} is unchanged"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_save_leaves_only_the_baseline_file(gate: pytest.Pytester) -> None:
    save(gate)
    save(gate)
    assert [p.name for p in (gate.path / "baselines").iterdir()] == [baseline_files(gate)[0].name]


def test_a_symlinked_baseline_stays_a_link(gate: pytest.Pytester) -> None:
    save(gate)
    [path] = baseline_files(gate)
    shared = gate.path / "shared"
    shared.mkdir()
    path.rename(shared / path.name)
    path.symlink_to(shared / path.name)
    save(gate)
    assert path.is_symlink()
    assert sorted(p.name for p in shared.iterdir()) == [path.name]


def test_a_killed_saves_temporary_is_removed_by_the_next_save(gate: pytest.Pytester) -> None:
    save(gate)
    [path] = baseline_files(gate)
    stale = path.with_name(f".{path.name}.k1ll3d_x.tmp")
    stale.write_bytes(b"{" * 1000)
    result = gate.runpytest(*ARGS, "--causal-eval-save")
    result.stdout.fnmatch_lines(["note: removed 1 temporary file(s) an interrupted save left in *baselines"])
    assert not stale.exists()
