"""A git repository made inside the tests: a tiny package whose cost runs on a virtual clock.

``slowpkg.work.work()`` advances a virtual clock by ``UNITS`` milliseconds and the repository's
conftest hands that clock to the plugin (``pytest_causal_eval_timer``), so the measurements are
exact and deterministic: the same commit measures identically, and ``UNITS = 3`` is exactly 3x.
Its load sampler (``pytest_causal_eval_load_sampler``) reports the foreign share in env
``FAKE_LOAD_<UNITS>`` (default 0), so the real machine's load decides no verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy  # noqa: F401 - imported once, before pytester's in-process runs (see tests/conftest.py)
import pytest
from gitrepo import git

import pytest_causal_eval.shard.plugin  # noqa: F401 - same reason

WORK = '''
UNITS = {units}
CLOCK = [0]


def work():
    """Deterministic cost: advances the virtual clock by UNITS milliseconds."""
    CLOCK[0] += 1_000_000 * UNITS
    return UNITS
'''

CONFTEST = """
import slowpkg.work as _work


class VirtualClock:
    def wall_ns(self):
        return _work.CLOCK[0]

    def cpu_ns(self):
        return _work.CLOCK[0]

    def resolution_ns(self):
        return 1.0


def pytest_causal_eval_timer(config):
    return VirtualClock()


# Other processes' share of the CPUs during the timed rounds: env FAKE_LOAD_<UNITS> (default 0: a
# quiet machine, whatever the real one is doing), so a side can be planted busy by its work.
class PlantedLoad:

    def begin(self):
        return None

    def end(self, begun):
        import os

        from pytest_causal_eval.measure.load import LoadReading

        share = float(os.environ.get(f"FAKE_LOAD_{_work.UNITS}", "0"))
        return LoadReading(foreign_share=share, cpus=2, seconds=1.0)


def pytest_causal_eval_load_sampler(config):
    return PlantedLoad()
"""

TESTS = """
from slowpkg.work import work


def test_work(causal_bench):
    causal_bench(work)


def test_{other}(causal_bench):
    causal_bench(work)
"""

FAST_ARGS = ("tests", "-q", "--causal-eval-max-time", "40ms", "--causal-eval-warmup", "off")


def worktree_count(repo: Path) -> int:
    return sum(
        1
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    )


@dataclass(frozen=True)
class Repo:
    path: Path
    broken: str  # slowpkg fails to import
    fast: str  # UNITS = 1; tests test_work and test_gone
    slow: str  # UNITS = 3; tests test_work and test_new


def commit(repo: Path, units: int | None, other: str, message: str) -> str:
    (repo / "slowpkg").mkdir(exist_ok=True)
    (repo / "slowpkg" / "__init__.py").write_text("")
    body = WORK.format(units=units) if units is not None else "raise ImportError('slowpkg is broken here')\n"
    (repo / "slowpkg" / "work.py").write_text(body)
    (repo / "conftest.py").write_text(CONFTEST)
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "test_bench.py").write_text(TESTS.format(other=other))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    path = tmp_path_factory.mktemp("abrepo")
    git(path, "init", "-q")
    broken = commit(path, None, "gone", "broken")
    fast = commit(path, 1, "gone", "fast")
    slow = commit(path, 3, "new", "three times the work")
    return Repo(path, broken, fast, slow)
