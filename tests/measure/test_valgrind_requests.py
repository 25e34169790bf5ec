"""Valgrind client requests issued from Python: platform rules, and no-ops outside valgrind."""

from __future__ import annotations

import re

import pytest

from pytest_causal_eval.measure import valgrind
from pytest_causal_eval.measure.instructions import InstructionCounter, NotUnderCallgrindError
from pytest_causal_eval.measure.valgrind import (
    ClientRequests,
    Platform,
    UnsupportedPlatformError,
    current_platform,
    request_code,
)


def _supported_here() -> bool:
    try:
        request_code(current_platform())
    except UnsupportedPlatformError:
        return False
    return True


native = pytest.mark.skipif(
    not _supported_here(), reason=f"no client requests on {current_platform().describe()}"
)


def test_request_numbers_follow_valgrind_h_and_callgrind_h() -> None:
    assert valgrind.RUNNING_ON_VALGRIND == 0x1001
    # VG_USERREQ_TOOL_BASE('C', 'T'), then the enum in declaration order.
    assert valgrind.CALLGRIND_DUMP_STATS == 0x43540000
    assert valgrind.CALLGRIND_ZERO_STATS == 0x43540001
    assert valgrind.CALLGRIND_TOGGLE_COLLECT == 0x43540002
    assert valgrind.CALLGRIND_DUMP_STATS_AT == 0x43540003
    assert valgrind.CALLGRIND_START_INSTRUMENTATION == 0x43540004
    assert valgrind.CALLGRIND_STOP_INSTRUMENTATION == 0x43540005


def test_x86_64_code_holds_the_special_preamble_and_marker() -> None:
    code = request_code(Platform("Linux", "x86_64", 64))
    preamble = bytes.fromhex("48c1c703 48c1c70d 48c1c73d 48c1c733")  # rol $3,$13,$61,$51 of %rdi
    marker = bytes.fromhex("4887db")  # xchg %rbx,%rbx
    assert code.find(preamble + marker) > 0
    assert code.endswith(bytes.fromhex("4889d0c3"))  # result from %rdx to %rax, ret


def test_aarch64_code_holds_the_special_preamble_and_marker() -> None:
    code = request_code(Platform("Linux", "aarch64", 64))
    words = [int.from_bytes(code[i : i + 4], "little") for i in range(0, len(code), 4)]
    preamble = [0x93CC0D8C, 0x93CC358C, 0x93CCCD8C, 0x93CCF58C]  # ror x12 by 3, 13, 51, 61
    i = words.index(preamble[0])
    assert words[i : i + 5] == [*preamble, 0xAA0A014A]  # then orr x10, x10, x10
    assert words[-1] == 0xD65F03C0  # ret
    assert request_code(Platform("Linux", "arm64", 64)) == code


@pytest.mark.parametrize(
    ("plat", "named"),
    [
        (Platform("Darwin", "arm64", 64), "Darwin on arm64"),
        (Platform("Windows", "AMD64", 64), "Windows on AMD64"),
        (Platform("Linux", "i686", 32), "Linux on i686 (32-bit Python)"),
        (Platform("Linux", "x86_64", 32), "Linux on x86_64 (32-bit Python)"),
        (Platform("Linux", "riscv64", 64), "Linux on riscv64"),
    ],
)
def test_unsupported_platforms_are_named(plat: Platform, named: str) -> None:
    with pytest.raises(UnsupportedPlatformError, match=re.escape("not available on " + named)) as err:
        request_code(plat)
    assert "Linux on x86_64 or aarch64" in str(err.value)


def test_client_requests_refuse_an_unsupported_platform() -> None:
    with pytest.raises(UnsupportedPlatformError, match="Darwin on arm64"):
        ClientRequests(Platform("Darwin", "arm64", 64))


@native
def test_requests_return_their_default_outside_valgrind() -> None:
    requests = ClientRequests()
    assert requests.running_on_valgrind() == 0
    assert requests.request(42, valgrind.RUNNING_ON_VALGRIND) == 42
    assert requests.request(7, valgrind.CALLGRIND_ZERO_STATS, 1, 2, 3, 4, 5) == 7
    prepared = requests.prepared(99, valgrind.CALLGRIND_TOGGLE_COLLECT)
    assert prepared() == 99 and prepared() == 99


@native
def test_callgrind_requests_are_no_ops_outside_valgrind() -> None:
    requests = valgrind.callgrind()
    assert valgrind.callgrind() is requests  # one page per process
    requests.toggle_collect()
    requests.start_instrumentation()
    requests.zero_stats()
    requests.dump_stats()
    requests.dump_stats_at("a measurement")
    requests.stop_instrumentation()
    assert requests.running_on_valgrind() == 0


@native
def test_request_arguments_and_dump_names_are_checked() -> None:
    requests = valgrind.callgrind()
    with pytest.raises(ValueError, match="at most 5 arguments, got 6"):
        requests.request(0, valgrind.CALLGRIND_ZERO_STATS, 1, 2, 3, 4, 5, 6)
    with pytest.raises(ValueError, match="one line"):
        requests.dump_stats_at("two\nlines")


@native
def test_counting_outside_valgrind_says_how_to_get_counts() -> None:
    with pytest.raises(NotUnderCallgrindError, match="--causal-eval-mode=instructions"):
        InstructionCounter.from_environment({"CAUSAL_EVAL_CALLGRIND_DIR": "/nonexistent"})
    with pytest.raises(NotUnderCallgrindError, match="CAUSAL_EVAL_CALLGRIND_DIR is not set"):
        InstructionCounter.from_environment({})
