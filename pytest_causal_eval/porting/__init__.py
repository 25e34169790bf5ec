"""Port a pytest-benchmark suite to pytest-causal-eval: ``causal-eval port PATH...``.

Pure rewriting logic: ``python_source`` (test modules and conftests), ``config_files``
(``addopts`` of pytest's config files), ``addopts`` (the option mapping), ``mapping`` (the tables
of pytest-benchmark's surface and ours) and ``files`` (which files, read and written faithfully).
Every change is an edit of an exact source span, so formatting and comments survive and a second
run finds nothing left to change.
"""

from __future__ import annotations

from pytest_causal_eval.porting.config_files import port_config
from pytest_causal_eval.porting.files import FilePort, discover, plan_port
from pytest_causal_eval.porting.findings import Finding, PortParseError
from pytest_causal_eval.porting.python_source import port_python

__all__ = ["FilePort", "Finding", "PortParseError", "discover", "plan_port", "port_config", "port_python"]
