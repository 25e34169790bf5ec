# Two commands do everything on a fresh machine (Python 3.10+, pip; apt for the test services):
#   make bench   run the benchmark suites with the plugin on, against the committed baselines
#   make test    lint, type-check and run the plugin's own tests
# Both create .venv when missing and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_ARGS ?=
TEST_ARGS ?=

.PHONY: bench test lint types unit services suites-quick setup clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

bench: $(STAMP)
	$(PY) -m pytest suites/ --causal-eval -p no:cacheprovider $(BENCH_ARGS)

SUITES_ARGS ?=
# The benchmark suites with the plugin off: each benchmark runs once, as a correctness test.
suites-quick: $(STAMP)
	$(PY) -m pytest suites/ -p no:cacheprovider $(SUITES_ARGS)

# The workflows: actionlint (from the dev extra) with Debian's shellcheck over their run: scripts;
# install-actionlint.sh installs shellcheck when it can and says when it is missing (CI=true: fails).
lint: $(STAMP)
	$(PY) -m ruff check pytest_causal_eval tests benchmarks suites scripts
	$(PY) -m ruff format --check pytest_causal_eval tests benchmarks suites scripts
	@bash scripts/install-actionlint.sh
	$(VENV)/bin/actionlint

types: $(STAMP)
	$(PY) -m mypy

services:
	@bash scripts/test-services.sh

unit: $(STAMP) services
	$(PY) -m pytest tests $(TEST_ARGS)

test: lint types unit

clean:
	rm -rf $(VENV) .causal-eval .pytest_cache .mypy_cache .ruff_cache
