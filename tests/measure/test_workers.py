"""measure.workers: the xdist identity of a process, from what xdist gives it."""

from __future__ import annotations

from typing import Any

from pytest_causal_eval.measure.workers import Workers, workers_of


class Config:
    """The two things ``workers_of`` reads from a pytest config: workerinput and the xdist options."""

    def __init__(self, workerinput: dict[str, Any] | None = None, **options: Any) -> None:
        if workerinput is not None:
            self.workerinput = workerinput
        self.options = options

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def test_a_worker_knows_its_number_the_count_and_the_run_from_workerinput() -> None:
    config = Config({"workerid": "gw3", "workercount": 4, "testrunuid": "abc"})
    assert workers_of(config) == Workers(is_worker=True, count=4, index=3, testrunuid="abc")


def test_the_controller_counts_its_workers_from_n_or_tx() -> None:
    assert workers_of(Config(dist="load", numprocesses=3)) == Workers(count=3)
    assert workers_of(Config(dist="load", tx=["popen", "popen"])) == Workers(count=2)


def test_without_xdist_there_is_one_process_and_no_worker() -> None:
    assert workers_of(Config()) == Workers()
    assert workers_of(Config(dist="no", numprocesses=0)) == Workers()
