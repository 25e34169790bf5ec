"""Which pytest-xdist process this is: the one place that knows the worker identity.

xdist gives each worker ``config.workerinput`` with its ``workerid`` ('gw0', 'gw1', ...), the
``workercount`` and the run's ``testrunuid`` (what its own ``get_xdist_worker_id`` and ``testrun_uid``
read); the controller knows the count from its ``-n`` / ``--tx`` options. Without xdist, or with
``-n 0``, there is one process and it is no worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Workers", "workers_of"]


@dataclass(frozen=True)
class Workers:
    """The xdist identity of this process."""

    is_worker: bool = False
    count: int = 1  # processes running tests (and timing) at once; 1 without xdist
    index: int | None = None  # this worker's number (gw3 -> 3); None on the controller or without xdist
    testrunuid: str | None = None  # shared by the workers of one run; None outside a worker


def workers_of(config: Any) -> Workers:
    """The identity of the process ``config`` belongs to."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        workerid = str(workerinput.get("workerid", ""))
        index = int(workerid[2:]) if workerid.startswith("gw") and workerid[2:].isdigit() else None
        uid = workerinput.get("testrunuid")
        return Workers(
            is_worker=True,
            count=max(1, int(workerinput.get("workercount") or 1)),
            index=index,
            testrunuid=str(uid) if uid else None,
        )
    if config.getoption("dist", "no") in (None, "no"):
        return Workers()
    tx = config.getoption("tx", None) or []
    return Workers(count=len(tx) if tx else max(1, int(config.getoption("numprocesses", 0) or 1)))
