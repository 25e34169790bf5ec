"""``causal-eval port`` on whole suites: in place, as a diff, twice, and on files it cannot parse."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_causal_eval.cli import main

from .conftest import FIXTURES, SUITES, tree

SuiteCopy = Callable[..., Path]


@pytest.mark.parametrize("name", SUITES)
def test_port_rewrites_the_suite_exactly_as_committed(
    name: str, suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy(name)
    status = main(["port", str(root)])
    out, err = capsys.readouterr()
    assert tree(root) == tree(FIXTURES / "expected" / name)
    assert status == 1  # both suites have something that needs a hand edit
    assert "measure with: pytest --causal-eval" in out
    for line in err.splitlines():
        assert line.startswith(str(root)), line
        path, number, kind, _ = line.split(":", 3)
        assert Path(path).is_file() and int(number) > 0 and kind in (" not ported", " note")


def test_the_serialization_suite_reports_its_tox_command_and_display_option(
    suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy("serialization")
    main(["port", str(root)])
    out, err = capsys.readouterr()
    assert "ported 3 of 5 file(s); 2 thing(s) not ported, listed above" in out
    assert [line.split(": ", 2)[:2] for line in err.splitlines()] == [
        [f"{root}/tox.ini:6", "not ported"],
        [f"{root}/tox.ini:10", "note"],
        [f"{root}/tox.ini:10", "not ported"],
    ]


def test_the_markdown_suite_reports_hooks_keys_and_options_by_line(
    suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy("markdown")
    main(["port", str(root)])
    err = capsys.readouterr().err
    where = [line.split(": ", 1)[0].replace(f"{root}/", "") for line in err.splitlines()]
    assert where == [
        "conftest.py:29",  # pytest_benchmark_update_machine_info
        "conftest.py:34",  # pytest_benchmark_update_json
        "pyproject.toml:10",  # --benchmark-columns
        "pyproject.toml:11",  # --benchmark-group-by
        "pyproject.toml:12",  # --benchmark-autosave
        "test_render.py:26",  # warmup_iterations
        "test_render.py:27",  # calibration_precision
        "test_render.py:49",  # await benchmark(...) -> aio (a note)
    ]


@pytest.mark.parametrize("name", SUITES)
def test_a_second_run_changes_nothing(
    name: str, suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy(name, "expected")
    before = tree(root)
    main(["port", str(root)])
    assert tree(root) == before
    assert "ported 0 of" in capsys.readouterr().out


@pytest.mark.parametrize("name", SUITES)
def test_diff_prints_a_patch_that_applies_and_changes_nothing(
    name: str, suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy(name)
    before = tree(root)
    status = main(["port", "--diff", str(root)])
    out, err = capsys.readouterr()
    assert status == 1
    assert tree(root) == before
    assert out.startswith(f"--- a/{root}/")
    assert "would port 3 of" in err
    patch = subprocess.run(
        ["git", "apply", "-p1", "--directory=/", "--unsafe-paths", "-"],
        input=out.replace(f"a/{root}/", f"a{root}/").replace(f"b/{root}/", f"b{root}/"),
        text=True,
        capture_output=True,
        cwd=root,
    )
    assert patch.returncode == 0, patch.stderr
    assert tree(root) == tree(FIXTURES / "expected" / name)


def test_a_file_that_does_not_parse_changes_nothing_anywhere(
    suite_copy: SuiteCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    root = suite_copy("markdown")
    (root / "test_broken.py").write_text("def test_a(benchmark):\n    benchmark(f,\n")
    before = tree(root)
    assert main(["port", str(root)]) == 2
    err = capsys.readouterr().err
    assert tree(root) == before
    assert f"causal-eval: error: {root}/test_broken.py:2: cannot parse: " in err
    assert err.rstrip().endswith("causal-eval: error: nothing was changed")


def test_a_broken_config_file_is_named_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--benchmark-disable\n')
    (tmp_path / "test_a.py").write_text("def test_a(benchmark):\n    benchmark(len, [])\n")
    assert main(["port", str(tmp_path)]) == 2
    assert f"causal-eval: error: {tmp_path}/pyproject.toml:2: cannot parse: " in capsys.readouterr().err
    assert "benchmark(len" in (tmp_path / "test_a.py").read_text()


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["port", str(tmp_path / "nope")]) == 2
    assert "nope: no such file or directory" in capsys.readouterr().err


def test_a_suite_with_nothing_left_to_port_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "test_a.py").write_text("def test_a(benchmark):\n    benchmark(len, [])\n")
    assert main(["port", str(tmp_path / "test_a.py")]) == 0
    assert (tmp_path / "test_a.py").read_text() == "def test_a(causal_bench):\n    causal_bench(len, [])\n"
    assert main(["port", str(tmp_path)]) == 0
    assert "ported 0 of 1 file(s); 0 thing(s) not ported" in capsys.readouterr().out


def test_the_governing_config_above_the_given_directory_is_ported(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\naddopts = --benchmark-min-rounds=3\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_a.py").write_text("def test_a(benchmark):\n    benchmark(len, [])\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "test_vendored.py").write_text("def test_v(benchmark): ...\n")
    assert main(["port", str(tests)]) == 0
    assert (tmp_path / "setup.cfg").read_text() == "[tool:pytest]\naddopts = --causal-eval-min-rounds=3\n"
    assert (tmp_path / ".venv" / "test_vendored.py").read_text() == "def test_v(benchmark): ...\n"


def test_encoding_bom_and_line_endings_survive(tmp_path: Path) -> None:
    path = tmp_path / "test_latin.py"
    path.write_bytes(
        b"# -*- coding: latin-1 -*-\r\ndef test_\xe9(benchmark):\r\n    benchmark(len, '\xe9')\r\n"
    )
    bom = tmp_path / "test_bom.py"
    bom.write_bytes(b"\xef\xbb\xbfdef test_a(benchmark):\n    benchmark(len, [])\n")
    assert main(["port", str(tmp_path)]) == 0
    assert path.read_bytes() == (
        b"# -*- coding: latin-1 -*-\r\ndef test_\xe9(causal_bench):\r\n    causal_bench(len, '\xe9')\r\n"
    )
    assert bom.read_bytes() == b"\xef\xbb\xbfdef test_a(causal_bench):\n    causal_bench(len, [])\n"


def test_the_command_line_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("def test_a(benchmark):\n    benchmark(len, [])\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_causal_eval.cli", "port", "--diff", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "+def test_a(causal_bench):" in done.stdout
