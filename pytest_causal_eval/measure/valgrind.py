"""Valgrind client requests from Python: no C compiler, no torch.

A client request is a fixed instruction sequence that valgrind.h documents per architecture: a
"special preamble" of rotations that leave a register unchanged, then a marker instruction. On a real
CPU the sequence does nothing and the request returns its default value; under valgrind the JIT
recognises it and hands the request to the core or the tool. We place that sequence, wrapped as a
function of the platform's C calling convention, ``uintptr_t request(uintptr_t default, uintptr_t *args)``,
on a page of our own (written while writable, then switched to read+execute) and call it through ctypes.

Supported: Linux on x86_64 and aarch64 with a 64-bit Python (the platforms valgrind and our users share).
Everything else raises ``UnsupportedPlatformError`` naming the platform.

The callgrind requests (``callgrind.h``) are tool requests with the base ``('C' << 24) | ('T' << 16)``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CALLGRIND_DUMP_STATS",
    "CALLGRIND_DUMP_STATS_AT",
    "CALLGRIND_START_INSTRUMENTATION",
    "CALLGRIND_STOP_INSTRUMENTATION",
    "CALLGRIND_TOGGLE_COLLECT",
    "CALLGRIND_ZERO_STATS",
    "RUNNING_ON_VALGRIND",
    "ClientRequests",
    "Platform",
    "PreparedRequest",
    "UnsupportedPlatformError",
    "callgrind",
    "current_platform",
    "request_code",
]

# valgrind.h: the core's requests.
RUNNING_ON_VALGRIND = 0x1001


def _tool_base(a: str, b: str) -> int:
    """``VG_USERREQ_TOOL_BASE(a, b)`` of valgrind.h."""
    return ((ord(a) & 0xFF) << 24) | ((ord(b) & 0xFF) << 16)


# callgrind.h: ``Vg_CallgrindClientRequest``, in declaration order from the tool base.
CALLGRIND_DUMP_STATS = _tool_base("C", "T")
CALLGRIND_ZERO_STATS = CALLGRIND_DUMP_STATS + 1
CALLGRIND_TOGGLE_COLLECT = CALLGRIND_DUMP_STATS + 2
CALLGRIND_DUMP_STATS_AT = CALLGRIND_DUMP_STATS + 3
CALLGRIND_START_INSTRUMENTATION = CALLGRIND_DUMP_STATS + 4
CALLGRIND_STOP_INSTRUMENTATION = CALLGRIND_DUMP_STATS + 5

# x86_64 System V: default in %rdi, &args in %rsi; valgrind reads &args from %rax and answers in %rdx.
_X86_64 = bytes(
    [
        0x48, 0x89, 0xF0,  # mov %rsi, %rax          (&args)
        0x48, 0x89, 0xFA,  # mov %rdi, %rdx          (default)
        0x48, 0xC1, 0xC7, 0x03,  # rol $3, %rdi      special preamble: four rotations of %rdi
        0x48, 0xC1, 0xC7, 0x0D,  # rol $13, %rdi     by 128 bits in all, so %rdi is unchanged
        0x48, 0xC1, 0xC7, 0x3D,  # rol $61, %rdi
        0x48, 0xC1, 0xC7, 0x33,  # rol $51, %rdi
        0x48, 0x87, 0xDB,  # xchg %rbx, %rbx         %rdx = client_request(%rax)
        0x48, 0x89, 0xD0,  # mov %rdx, %rax          (the result)
        0xC3,  # ret
    ]
)  # fmt: skip

# AArch64 (AAPCS64): default in x0, &args in x1; valgrind reads &args from x4 and answers in x3.
_AARCH64_WORDS = (
    0xAA0003E3,  # mov x3, x0                (default)
    0xAA0103E4,  # mov x4, x1                (&args)
    0x93CC0D8C,  # ror x12, x12, #3          special preamble: four rotations of x12 by 128 bits
    0x93CC358C,  # ror x12, x12, #13
    0x93CCCD8C,  # ror x12, x12, #51
    0x93CCF58C,  # ror x12, x12, #61
    0xAA0A014A,  # orr x10, x10, x10         x3 = client_request(x4)
    0xAA0303E0,  # mov x0, x3                (the result)
    0xD65F03C0,  # ret
)
_AARCH64 = b"".join(word.to_bytes(4, "little") for word in _AARCH64_WORDS)

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
_CODE = {"x86_64": _X86_64, "aarch64": _AARCH64}

# Linux mmap/mprotect constants (the same on x86_64 and aarch64).
_PROT_READ, _PROT_WRITE, _PROT_EXEC = 0x1, 0x2, 0x4
_MAP_PRIVATE, _MAP_ANONYMOUS = 0x02, 0x20
_MAP_FAILED = ctypes.c_void_p(-1).value


class UnsupportedPlatformError(RuntimeError):
    """Valgrind client requests are not available on this platform."""


@dataclass(frozen=True)
class Platform:
    system: str  # platform.system()
    machine: str  # platform.machine()
    pointer_bits: int

    def describe(self) -> str:
        return f"{self.system} on {self.machine} ({self.pointer_bits}-bit Python)"


def current_platform() -> Platform:
    return Platform(platform.system(), platform.machine(), 8 * ctypes.sizeof(ctypes.c_void_p))


def request_code(plat: Platform) -> bytes:
    """The machine code of the request function for ``plat``, or ``UnsupportedPlatformError``."""
    arch = _MACHINES.get(plat.machine.lower())
    if plat.system != "Linux" or arch is None or plat.pointer_bits != 64:
        raise UnsupportedPlatformError(
            f"valgrind instruction counting is not available on {plat.describe()}: "
            "it needs Linux on x86_64 or aarch64 with a 64-bit Python "
            "(valgrind does not run on Windows or on macOS on arm64)"
        )
    return _CODE[arch]


_RequestFn = Callable[..., int]
_Args = ctypes.c_size_t * 6


def _executable_function(code: bytes) -> tuple[_RequestFn, int]:
    """Map ``code`` on a fresh page, make it read+execute (never writable and executable at once)."""
    libc = ctypes.CDLL(None, use_errno=True)
    mmap = libc.mmap
    mmap.restype = ctypes.c_void_p
    mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    mprotect = libc.mprotect
    mprotect.restype = ctypes.c_int
    mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    size = max(os.sysconf("SC_PAGE_SIZE"), len(code))
    addr = mmap(None, size, _PROT_READ | _PROT_WRITE, _MAP_PRIVATE | _MAP_ANONYMOUS, -1, 0)
    if addr is None or addr == _MAP_FAILED:
        err = ctypes.get_errno()
        raise OSError(err, f"valgrind client requests: mmap of one page failed: {os.strerror(err)}")
    ctypes.memmove(addr, code, len(code))
    # On aarch64 the kernel makes the instruction cache coherent when a user page becomes executable.
    if mprotect(addr, size, _PROT_READ | _PROT_EXEC) != 0:
        err = ctypes.get_errno()
        raise OSError(
            err,
            "valgrind client requests: this system refuses executable memory for the request "
            f"page (mprotect: {os.strerror(err)}); a hardened kernel policy may forbid it",
        )
    prototype = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p)
    return prototype(addr), addr


class PreparedRequest:
    """One client request with its argument block built in advance; call it to issue it."""

    __slots__ = ("_address", "_block", "_default", "_fn")

    def __init__(self, fn: _RequestFn, default: int, block: ctypes.Array[ctypes.c_size_t]) -> None:
        self._fn, self._default, self._block = fn, default, block  # the block lives as long as we do
        self._address = ctypes.addressof(block)

    def __call__(self) -> int:
        return int(self._fn(self._default, self._address))


class ClientRequests:
    """Issue valgrind client requests; outside valgrind every request returns its default.

    Keep one instance per process (``callgrind()`` gives the shared one): the page stays mapped for
    the life of the process.
    """

    def __init__(self, plat: Platform | None = None) -> None:
        self.platform = plat or current_platform()
        self._fn, self.address = _executable_function(request_code(self.platform))

    def request(self, default: int, code: int, *args: int) -> int:
        """``VALGRIND_DO_CLIENT_REQUEST_EXPR(default, code, args...)`` with up to five arguments."""
        return self.prepared(default, code, *args)()

    def prepared(self, default: int, code: int, *args: int) -> PreparedRequest:
        """The request as a ready call: its argument block is built now, not when it is issued.

        Issue the requests that open and close a counted section this way, so the section counts
        only the foreign-function call, not the building of ctypes objects (which can create types).
        """
        if len(args) > 5:
            raise ValueError(f"a client request takes at most 5 arguments, got {len(args)}")
        return PreparedRequest(self._fn, default, _Args(code, *args))

    # -- the core ----------------------------------------------------------------------------------
    def running_on_valgrind(self) -> int:
        """0 natively, 1 under valgrind, 2 under valgrind under valgrind, ..."""
        return self.request(0, RUNNING_ON_VALGRIND)

    # -- callgrind ---------------------------------------------------------------------------------
    def toggle_collect(self) -> None:
        """Flip cost collection of the calling thread (other threads keep their own state)."""
        self.request(0, CALLGRIND_TOGGLE_COLLECT)

    def start_instrumentation(self) -> None:
        """Instrument from now on (all threads); discards the translations made without it."""
        self.request(0, CALLGRIND_START_INSTRUMENTATION)

    def stop_instrumentation(self) -> None:
        """Stop instrumenting (all threads); code then runs at about nulgrind speed, uncounted."""
        self.request(0, CALLGRIND_STOP_INSTRUMENTATION)

    def zero_stats(self) -> None:
        """Reset the counters of every thread."""
        self.request(0, CALLGRIND_ZERO_STATS)

    def dump_stats(self) -> None:
        self.request(0, CALLGRIND_DUMP_STATS)

    def dump_stats_at(self, name: str) -> None:
        """Write the counts since the last dump or zero to a new numbered file, then zero them.

        ``name`` is written to the file's ``desc: Trigger: Client Request: <name>`` line.
        """
        if "\n" in name or "\r" in name or "\0" in name:
            raise ValueError(f"a dump name must be one line without NUL, got {name!r}")
        buf = ctypes.create_string_buffer(name.encode("utf-8"))
        self.request(0, CALLGRIND_DUMP_STATS_AT, ctypes.addressof(buf))


_shared: ClientRequests | None = None
_shared_lock = threading.Lock()


def callgrind() -> ClientRequests:
    """The process's ``ClientRequests``, made on first use; ``UnsupportedPlatformError`` elsewhere."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ClientRequests()
        return _shared
