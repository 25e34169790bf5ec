"""Untimed passes over a workload (profiling, peak heap, leak check), written once for a plain
callable and for a coroutine function awaited inside the test's running event loop.

A pass is a generator that yields each time the workload should run once; what it does between
the yields (start a profiler, take a snapshot) brackets those runs, and its ``return`` value is the
pass's result. A pass may yield a context manager instead of None: the driver enters it in its
own frame around that run (a tracker that must be started in a frame that stays on the stack
while the workload runs, as memray's: started inside nested generators, it loses the Python
stacks). ``drive`` runs a pass with a callable, ``drive_async`` with a coroutine function in the
running loop (``causal_bench.aio``: the workload's own loop, fixtures and connections). An
exception from the workload (or from entering the context manager) is thrown into the pass where
it yielded: its ``finally`` blocks run, and it may handle the exception and go on (a pass made of
passes notes one failure and runs the next). Every run of the workload goes through one marker
frame (``_call``/``_call_async``), so an allocation can be told to be the workload's from its
traceback (see ``is_workload_call``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

__all__ = ["LoopWorkload", "Steps", "drive", "drive_async", "drive_workload", "is_workload_call"]

T = TypeVar("T")
#: A pass: yields once per run of the workload (None, or a context manager to run it in), returns
#: its result.
Steps = Generator[AbstractContextManager[Any] | None, None, T]


def _call(workload: Callable[[], Any]) -> Any:
    return workload()  # the marker frame of a synchronous run


async def _call_async(workload: Callable[[], Awaitable[Any]]) -> Any:
    return await workload()  # the marker frame of a run inside the event loop


def _last_line(fn: Callable[..., Any]) -> int:
    return max(line for _, _, line in fn.__code__.co_lines() if line is not None)


_THIS_FILE = _call.__code__.co_filename
_MARKER_LINES = frozenset({_last_line(_call), _last_line(_call_async)})


def is_workload_call(filename: str, lineno: int) -> bool:
    """Whether a traceback frame is the marker frame every run of a driven workload goes through."""
    return filename == _THIS_FILE and lineno in _MARKER_LINES


def is_driver_frame(filename: str) -> bool:
    """Whether a traceback frame is the driver's own (its bookkeeping between the runs)."""
    return filename == _THIS_FILE


def drive(steps: Steps[T], workload: Callable[[], Any]) -> T:
    """Run the pass ``steps``, calling ``workload`` at each of its yields."""
    try:
        around = next(steps)
        while True:
            try:
                with around if around is not None else contextlib.nullcontext():
                    _call(workload)
            except Exception as exc:
                around = steps.throw(exc)
            else:
                around = next(steps)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        steps.close()


async def drive_async(steps: Steps[T], workload: Callable[[], Awaitable[Any]]) -> T:
    """Run the pass ``steps`` inside the running event loop, awaiting ``workload()`` at each yield."""
    try:
        around = next(steps)
        while True:
            try:
                with around if around is not None else contextlib.nullcontext():
                    await _call_async(workload)
            except Exception as exc:
                around = steps.throw(exc)
            else:
                around = next(steps)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        steps.close()


class LoopWorkload:
    """A coroutine-function workload kept with the loop it was measured in, for the passes after
    its timed rounds: ``run_passes`` drives a pass inside that loop (``drive_async``), so the
    profile shows what was timed, not the making and closing of a loop per run; calling it runs
    the workload once.

    ``loop`` None (``causal_bench.async_``): a private loop per pass, as the timed rounds had.
    Else (``causal_bench.aio``, kept for explaining a regression after the test): the test's own
    loop, in the test's context, while that loop is open and idle (after the test function
    returned, before the loop's fixture closes it); once that loop is closed (anyio's, when no
    async fixture holds it), a private loop: a workload bound to the old loop fails there, and the
    pass says so."""

    def __init__(
        self,
        coro_fn: Callable[[], Awaitable[Any]],
        loop: asyncio.AbstractEventLoop | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        self.coro_fn = coro_fn
        self.loop = loop
        self.context = context

    def __call__(self) -> Any:
        return self._run(_call_async(self.coro_fn))

    def run_passes(self, steps: Steps[T]) -> T:
        return self._run(drive_async(steps, self.coro_fn))

    def unavailable(self) -> str | None:
        """Why the workload cannot run now (its loop is running), else None."""
        if self.loop is None or self.loop.is_closed():
            return None
        if self.loop.is_running():
            return "cannot run the async workload again: the test's event loop is running"
        return None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        problem = self.unavailable()
        if problem is not None:
            coro.close()
            raise RuntimeError(problem)
        context = self.context if self.context is not None else contextvars.copy_context()
        if self.loop is None or self.loop.is_closed():
            return context.run(asyncio.run, coro)  # its task runs in a copy of the test's context
        task = context.run(self.loop.create_task, coro)  # runs in (a copy of) the test's context
        return self.loop.run_until_complete(task)


def drive_workload(make_steps: Callable[[bool], Steps[T]], workload: Callable[[], Any]) -> T:
    """Run a pass with a kept workload: a ``LoopWorkload`` inside its loop (``make_steps(True)``,
    the pass knows it is awaited), any other by calling it (``make_steps(False)``). A
    ``LoopWorkload`` that cannot run now raises ``RuntimeError`` (see ``unavailable``)."""
    if isinstance(workload, LoopWorkload):
        return workload.run_passes(make_steps(True))
    return drive(make_steps(False), workload)
