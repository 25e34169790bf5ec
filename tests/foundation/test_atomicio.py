"""Atomic writes: what they replace and what they must not."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from pytest_causal_eval.atomicio import write_json_atomic, write_text_atomic
from pytest_causal_eval.numbers import check


def test_a_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_named_pipe_is_written_into_not_replaced(tmp_path: Path) -> None:
    # /dev/null, /dev/stdout or a pipe given as an output path: replacing it with a regular file
    # (as root, /dev/null itself) broke the machine and reported success.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_text_atomic(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_device_stays_a_device(tmp_path: Path) -> None:
    # A private node with /dev/null's numbers: the real one must never be at stake in a test.
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); the named-pipe test covers the rule")
    write_text_atomic(device, "discarded\n")
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


@pytest.mark.parametrize("loop", ["self", "pair"])
def test_a_symlink_loop_is_refused_not_replaced(tmp_path: Path, loop: str) -> None:
    link = tmp_path / "base.json"
    if loop == "self":
        link.symlink_to(link.name)
    else:
        (tmp_path / "other.json").symlink_to(link.name)
        link.symlink_to("other.json")
    with pytest.raises(OSError, match="loops"):
        write_json_atomic(link, {"a": 1})
    assert link.is_symlink()


def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    link = tmp_path / "base.json"
    link.symlink_to("real.json")
    write_json_atomic(link, {"a": 1})
    assert link.is_symlink()
    assert json.loads((tmp_path / "real.json").read_text()) == {"a": 1}


@pytest.mark.parametrize(("value", "good"), [(0, True), (10**9, True), (10**9 + 1, False), (1e30, False)])
def test_a_count_has_an_upper_bound(value: float, good: bool) -> None:
    # a hand-edited rounds of 1e30 narrowed the interval of an entry without samples into a verdict
    assert (check(value, "count") is None) is good
