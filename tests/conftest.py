"""Shared by every test directory."""

# numpy is a C extension that cannot be imported twice in one process; pytester's in-process runs
# restore sys.modules afterwards, so it is imported here once, before any of them.
import numpy  # noqa: F401
