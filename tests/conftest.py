"""Shared by every test directory."""

# pytester's in-process runs restore sys.modules afterwards: a module first imported inside one is
# imported again by the next test that needs it. So these are imported here once, before any run:
# numpy, a C extension that cannot be imported twice in one process, and httpcore, which httpx
# imports lazily: httpx keeps the httpcore exception classes of the first error it maps, and those
# of a second httpcore would escape unmapped (a refused connection raised as
# httpcore.ConnectError, not httpx.ConnectError). Which test runs first depends on the order (and
# on the pytest-xdist worker a test lands on), so neither may depend on it.
import httpcore  # noqa: F401
import numpy  # noqa: F401
import pytest
from required import require_valgrind


@pytest.fixture(autouse=True)
def _no_pytest_asyncio_in_pytester_runs(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-asyncio (a dev dependency) loads into every pytester run and warns there when its
    asyncio_default_fixture_loop_scope is unset, which the -W error runs turn into errors. The
    projects these tests build do not use it; the tests that do pass -p asyncio (which unblocks
    it). Set after pytester, which clears PYTEST_ADDOPTS."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:asyncio")


@pytest.fixture
def needs_valgrind() -> None:
    """valgrind on a platform its client requests support: skipped locally without it, failed in CI."""
    require_valgrind()
