"""Re-running a Python command under ``valgrind --tool=callgrind``, for instruction counting.

The parent process (the user's ``pytest`` command) checks the platform and finds valgrind, makes a
private output directory, and runs the same command again as

    valgrind --tool=callgrind --instr-atstart=no --collect-atstart=yes
             --callgrind-out-file=DIR/callgrind.out.%p --log-file=DIR/valgrind.%p.log
             [--cache-sim=yes] REAL_PYTHON ARGS...

with ``PYTHONHASHSEED`` fixed (the user's value when set, else 0), BLAS/OpenMP pools at one thread
(unless the user set them) and the directory in the environment. Instrumentation is off until the
counted calls switch it on, so pytest's start-up, collection, imports and fixtures run at about
nulgrind speed and are never counted. Standard input, output and error are the parent's; the
child's exit code is the parent's result.

``REAL_PYTHON`` is the interpreter binary, not a wrapper: valgrind run on a version manager's shim
script counts the shell and never sees Python.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pytest_causal_eval.measure.instructions import ENV_OUT_DIR, OUT_FILE_PREFIX
from pytest_causal_eval.measure.valgrind import current_platform, request_code
from pytest_causal_eval.measure.valgrind_env import ENV_PINNED_BY_PLUGIN

__all__ = [
    "DEFAULT_HASH_SEED",
    "ENV_HASH_SEED",
    "ENV_PINNED_BY_PLUGIN",
    "ENV_UNDER_CALLGRIND",
    "PINNED_POOLS",
    "CallgrindLaunch",
    "CallgrindSession",
    "InterpreterNotFoundError",
    "ValgrindMissingError",
    "find_valgrind",
    "is_elf",
    "real_interpreter",
    "under_callgrind",
]

ENV_UNDER_CALLGRIND = "CAUSAL_EVAL_UNDER_CALLGRIND"  # "1" in the re-run: it must not re-run itself
ENV_HASH_SEED = "PYTHONHASHSEED"
DEFAULT_HASH_SEED = "0"
# Thread pools that spin while they wait count their spinning, which depends on the scheduler: one
# thread each makes numpy/torch counts repeatable (a user's own setting is kept).
PINNED_POOLS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# glibc moves its mmap threshold up each time a large block given back to the system was freed, so
# whether the next large block comes from the heap or from mmap (a different path, a different
# count) depends on what the process freed before. Set explicitly, the thresholds stay fixed (at
# glibc's defaults). A user's own GLIBC_TUNABLES is kept as it is.
ENV_GLIBC_TUNABLES = "GLIBC_TUNABLES"

FIXED_MALLOC_THRESHOLDS = "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072"
TIMEOUT_EXIT_CODE = 2  # pytest's "interrupted"
LOG_TAIL_LINES = 30


class ValgrindMissingError(RuntimeError):
    """valgrind is not on PATH."""


class InterpreterNotFoundError(RuntimeError):
    """No interpreter binary valgrind could run was found for this Python."""


def under_callgrind(environ: Mapping[str, str] | None = None) -> bool:
    """True in the re-run process (set by the launcher, inherited by nothing valgrind does not run)."""
    env = os.environ if environ is None else environ
    return env.get(ENV_UNDER_CALLGRIND) == "1"


def find_valgrind(which: Callable[[str], str | None] = shutil.which) -> str:
    path = which("valgrind")
    if path is None:
        raise ValgrindMissingError(
            "--causal-eval-mode=instructions needs valgrind, which is not installed (not on PATH); "
            "on Debian/Ubuntu: sudo apt-get install valgrind"
        )
    return path


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def real_interpreter(
    executable: str | None = None,
    prefix: str | None = None,
    version: tuple[int, int] | None = None,
    proc_exe: str = "/proc/self/exe",
) -> str:
    """The interpreter binary to hand to valgrind, keeping a virtual environment when there is one.

    ``sys.executable`` is used when it is an ELF binary (a venv's ``bin/python`` symlink counts: it
    resolves to one, and run by that name the interpreter still finds its ``pyvenv.cfg``). When it is
    a script (a pyenv/asdf shim, a wrapper), the same environment's ``bin/pythonX.Y`` is tried, then
    the binary this process runs (``/proc/self/exe``).
    """
    exe = sys.executable if executable is None else executable
    pre = sys.prefix if prefix is None else prefix
    major, minor = sys.version_info[:2] if version is None else version
    candidates = [exe] if exe else []
    bindir = Path(pre) / "bin"
    candidates += [
        str(bindir / f"python{major}.{minor}"),
        str(bindir / f"python{major}"),
        str(bindir / "python"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and is_elf(candidate):
            return candidate
    running = os.path.realpath(proc_exe)
    if os.access(running, os.X_OK) and is_elf(running):
        return running
    raise InterpreterNotFoundError(
        f"cannot find the Python interpreter binary to run under valgrind: {exe!r} is not an ELF "
        f"executable (a shim or wrapper script?) and neither is any of {candidates[1:]} or {running!r}"
    )


@dataclass(frozen=True)
class CallgrindLaunch:
    """How the re-run is started: the command line and the environment."""

    valgrind: str
    interpreter: str
    out_dir: Path
    cache_sim: bool = False
    instr_atstart: bool = False  # True instruments everything from the start: slower, for comparison
    extra_valgrind_args: tuple[str, ...] = ()

    def command(self, python_args: Sequence[str]) -> list[str]:
        cmd = [
            self.valgrind,
            "--tool=callgrind",
            f"--instr-atstart={'yes' if self.instr_atstart else 'no'}",
            # Every thread collects (a thread's collection state is its own, and new threads start
            # with this one); what is counted is bounded by instrumentation and by ZERO/DUMP.
            "--collect-atstart=yes",
            "--separate-threads=no",
            f"--callgrind-out-file={self.out_dir / OUT_FILE_PREFIX}.%p",
            f"--log-file={self.out_dir}/valgrind.%p.log",
        ]
        if self.cache_sim:
            cmd.append("--cache-sim=yes")
        cmd += list(self.extra_valgrind_args)
        return [*cmd, self.interpreter, *python_args]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        env[ENV_UNDER_CALLGRIND] = "1"
        env[ENV_OUT_DIR] = str(self.out_dir)
        env.setdefault(ENV_HASH_SEED, DEFAULT_HASH_SEED)
        if env[ENV_HASH_SEED] == "random":
            env[ENV_HASH_SEED] = DEFAULT_HASH_SEED
        env.setdefault(ENV_GLIBC_TUNABLES, FIXED_MALLOC_THRESHOLDS)
        pinned = [name for name in PINNED_POOLS if name not in env]
        env.update({name: PINNED_POOLS[name] for name in pinned})
        env[ENV_PINNED_BY_PLUGIN] = ",".join(pinned)
        return env


@dataclass
class CallgrindSession:
    """A private output directory and the re-run under callgrind; use as a context manager.

    The directory (dump files, valgrind's log, anything the re-run leaves for the parent) exists from
    ``__enter__`` until ``__exit__``, so the parent can read what the child wrote after ``run``.
    """

    cache_sim: bool = False
    instr_atstart: bool = False
    extra_valgrind_args: tuple[str, ...] = ()
    launch: CallgrindLaunch | None = field(default=None, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> CallgrindSession:
        request_code(current_platform())  # UnsupportedPlatformError names the platform
        valgrind = find_valgrind()
        interpreter = real_interpreter()
        self._tmp = tempfile.TemporaryDirectory(prefix="causal-eval-callgrind-")
        self.launch = CallgrindLaunch(
            valgrind=valgrind,
            interpreter=interpreter,
            out_dir=Path(self._tmp.name),
            cache_sim=self.cache_sim,
            instr_atstart=self.instr_atstart,
            extra_valgrind_args=self.extra_valgrind_args,
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def out_dir(self) -> Path:
        if self.launch is None:
            raise RuntimeError("CallgrindSession is used outside its 'with' block")
        return self.launch.out_dir

    def run(
        self,
        python_args: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> int:
        """Run ``python ARGS`` under callgrind; return its exit code (128+N when killed by signal N).

        After ``timeout`` seconds the re-run is terminated (then killed) and ``TIMEOUT_EXIT_CODE``
        returned with a message; valgrind's own log is shown when it failed before Python ran.
        """
        if self.launch is None:
            raise RuntimeError("CallgrindSession is used outside its 'with' block")
        say = report or (lambda text: print(text, file=sys.stderr))
        cmd = self.launch.command(python_args)
        env = self.launch.environment(os.environ if environ is None else environ)
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, preexec_fn=fixed_addresses)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            say(
                f"causal-eval: the run under valgrind did not finish within {timeout:g} s and was stopped "
                "(counted code runs 50-100x slower than native; raise the time limit or count fewer calls)"
            )
            return TIMEOUT_EXIT_CODE
        except KeyboardInterrupt:
            _stop(proc)
            raise
        if rc < 0:
            rc = 128 - rc
        if rc != 0 and not self._python_ran():
            say(f"causal-eval: valgrind failed (exit code {rc}) before Python started:\n{self.log_tail()}")
        return rc

    def _python_ran(self) -> bool:
        """Callgrind writes its final file at exit of a process that ran: no file means it never ran."""
        return any(self.out_dir.glob(f"{OUT_FILE_PREFIX}.*"))

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        text: list[str] = []
        for log in sorted(self.out_dir.glob("valgrind.*.log")):
            text += log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


ADDR_NO_RANDOMIZE = 0x0040000  # <linux/personality.h>
_QUERY_PERSONALITY = 0xFFFFFFFF


def fixed_addresses() -> None:
    """In the child before exec: switch off address-space randomisation (``setarch -R``).

    With randomised addresses, the heap, the stack and every ``mmap`` start somewhere else in each
    run, and what the code does depends on where: ``realloc`` grows a block in place or copies it,
    ``malloc`` finds a free chunk at once or splits another, sets and dicts keyed by ``id()`` order
    their objects differently. Counted, that moved the same sort by 0.5% from run to run. With fixed
    addresses the same code allocates at the same addresses and counts the same. Where the kernel
    refuses (a sandbox), the run goes on with randomised addresses.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        current = libc.personality(_QUERY_PERSONALITY)
        if current != -1:
            libc.personality(current | ADDR_NO_RANDOMIZE)
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
