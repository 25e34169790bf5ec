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

.PHONY: bench test lint types unit services suites-quick setup clean test-pythons

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

# The plugin's tests run in TEST_WORKERS pytest-xdist workers (2: the CI machine's cores; 0 runs them in
# this one process). --dist loadgroup hands out one test at a time, the biggest
# @pytest.mark.xdist_group first; a group's tests run on one worker in file order.
TEST_WORKERS ?= 2
unit: $(STAMP) services
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadgroup $(TEST_ARGS)

test: lint types unit

# The plugin's tests on every Python the package claims that this machine has (PYTHONS="3.12" for
# one), each in its own venv under .venvs/ (reinstalled when pyproject.toml changed). torch is
# installed only as its pinned CPU wheel (torch==2.13.0+cpu, from a wheel directory or the CPU
# index in PIP_EXTRA_INDEX_URL); where there is none for that Python the venv gets the `test`
# extra without torch and the torch tests skip with their reason. Ends with one line per version.
PYTHONS ?= 3.10 3.11 3.12 3.13
test-pythons: services
	@summary=""; failed=0; \
	for v in $(PYTHONS); do \
	  py=""; \
	  for cand in "python$$v" "$$(pyenv root 2>/dev/null)/versions/$$v"*/bin/"python$$v"; do \
	    if "$$cand" -c 'import sys' >/dev/null 2>&1; then py=$$(command -v "$$cand"); break; fi; \
	  done; \
	  if [ -z "$$py" ]; then summary="$$summary\n  Python $$v: not on this machine, skipped"; continue; fi; \
	  venv=.venvs/$$v; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    echo "== Python $$v: installing into $$venv"; \
	    { test -x $$venv/bin/python || "$$py" -m venv $$venv; } && \
	    $$venv/bin/python -m pip install --quiet --upgrade pip && \
	    if $$venv/bin/python -m pip install --quiet 'torch==2.13.0+cpu' >/dev/null 2>&1; then extras=dev; \
	    else extras=test; echo "   no torch==2.13.0+cpu wheel for Python $$v: installing without torch"; fi && \
	    $$venv/bin/python -m pip install --quiet -e ".[$$extras]" && touch $$venv/.installed \
	    || { summary="$$summary\n  Python $$v: install failed"; failed=1; continue; }; \
	  fi; \
	  echo "== Python $$v: $$venv/bin/python -m pytest tests -n $(TEST_WORKERS) --dist loadgroup $(TEST_ARGS)"; \
	  if $$venv/bin/python -m pytest tests -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup $(TEST_ARGS); then \
	    summary="$$summary\n  Python $$v: passed"; \
	  else summary="$$summary\n  Python $$v: FAILED"; failed=1; fi; \
	done; \
	printf "test-pythons:$$summary\n"; exit $$failed

clean:
	rm -rf $(VENV) .venvs .causal-eval .pytest_cache .mypy_cache .ruff_cache
