"""The re-run under callgrind: command line, environment, interpreter resolution, missing valgrind."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from pytest_causal_eval.measure.valgrind_launch import (
    CallgrindLaunch,
    InterpreterNotFoundError,
    ValgrindMissingError,
    find_valgrind,
    is_elf,
    real_interpreter,
    under_callgrind,
)

REAL_PYTHON = os.path.realpath(sys.executable)


def _script(path: Path, text: str = '#!/bin/sh\nexec python3 "$@"\n') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_missing_valgrind_names_the_package() -> None:
    with pytest.raises(ValgrindMissingError, match=r"apt-get install valgrind"):
        find_valgrind(which=lambda name: None)
    assert find_valgrind(which=lambda name: f"/usr/bin/{name}") == "/usr/bin/valgrind"


def test_the_command_switches_instrumentation_off_until_the_counted_calls(tmp_path: Path) -> None:
    launch = CallgrindLaunch("/usr/bin/valgrind", "/opt/venv/bin/python", tmp_path)
    cmd = launch.command(["-m", "pytest", "-q"])
    assert cmd[:2] == ["/usr/bin/valgrind", "--tool=callgrind"]
    assert "--instr-atstart=no" in cmd
    assert "--collect-atstart=yes" in cmd  # every thread collects once instrumented
    assert f"--callgrind-out-file={tmp_path}/callgrind.out.%p" in cmd
    assert f"--log-file={tmp_path}/valgrind.%p.log" in cmd
    assert "--cache-sim=yes" not in cmd
    assert cmd[-4:] == ["/opt/venv/bin/python", "-m", "pytest", "-q"]
    cached = CallgrindLaunch("/usr/bin/valgrind", "/py", tmp_path, cache_sim=True, instr_atstart=True)
    assert "--cache-sim=yes" in cached.command([]) and "--instr-atstart=yes" in cached.command([])


def test_the_environment_fixes_the_hash_seed_and_marks_the_rerun(tmp_path: Path) -> None:
    launch = CallgrindLaunch("/usr/bin/valgrind", "/py", tmp_path)
    env = launch.environment({"PATH": "/bin"})
    assert env["PYTHONHASHSEED"] == "0"
    assert env["CAUSAL_EVAL_CALLGRIND_DIR"] == str(tmp_path)
    assert env["PATH"] == "/bin"
    assert under_callgrind(env) and not under_callgrind({"PATH": "/bin"})
    assert launch.environment({"PYTHONHASHSEED": "123"})["PYTHONHASHSEED"] == "123"  # the user's seed
    assert launch.environment({"PYTHONHASHSEED": "random"})["PYTHONHASHSEED"] == "0"


def test_spinning_thread_pools_are_pinned_unless_the_user_chose(tmp_path: Path) -> None:
    launch = CallgrindLaunch("/usr/bin/valgrind", "/py", tmp_path)
    env = launch.environment({})
    assert (env["OPENBLAS_NUM_THREADS"], env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"]) == ("1", "1", "1")
    assert launch.environment({"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"


def test_an_elf_interpreter_is_used_as_it_is_named(tmp_path: Path) -> None:
    assert is_elf(REAL_PYTHON)
    link = tmp_path / "venv" / "bin" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(REAL_PYTHON)  # a venv's python: keep its name, it finds pyvenv.cfg by it
    assert real_interpreter(str(link), str(tmp_path / "venv"), (3, 11)) == str(link)


def test_a_shim_script_is_replaced_by_the_binary_of_the_same_environment(tmp_path: Path) -> None:
    shim = _script(tmp_path / "shims" / "python")
    assert not is_elf(str(shim))
    prefix = tmp_path / "env"
    binary = prefix / "bin" / "python3.11"
    binary.parent.mkdir(parents=True)
    shutil.copy(REAL_PYTHON, binary)
    assert real_interpreter(str(shim), str(prefix), (3, 11)) == str(binary)


def test_a_shim_without_a_binary_beside_it_falls_back_to_the_running_binary(tmp_path: Path) -> None:
    shim = _script(tmp_path / "shims" / "python")
    assert real_interpreter(str(shim), str(tmp_path / "none"), (3, 11)) == os.path.realpath("/proc/self/exe")
    with pytest.raises(InterpreterNotFoundError, match="a shim or wrapper script"):
        real_interpreter(str(shim), str(tmp_path / "none"), (3, 11), proc_exe=str(shim))
