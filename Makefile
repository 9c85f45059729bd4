# Every target bootstraps .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstalled whenever pyproject.toml is newer than the stamp.
STAMP := $(VENV)/.installed
# Extra arguments for the command a target runs: make test ARGS="-k recovery -x",
# make crash-test ARGS="--workload basic --kinds power".
ARGS ?=

.PHONY: test crash-test mutants walkthroughs bench report-perf lint

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# PYTHONHASHSEED fixed: Hypothesis's derandomised programs then do not depend on set order.
test: $(STAMP)
	PYTHONHASHSEED=0 $(PY) -m pytest -n auto $(ARGS)

# The main job: every crash point of the default workloads, under every fault kind.
crash-test: $(STAMP)
	$(PY) -m tornwrite.faultinject campaign $(ARGS)

# The bug zoo: every catalogued mutant must be caught, and the real engine must pass.
mutants: $(STAMP)
	$(PY) -m tornwrite.faultinject mutants $(ARGS)

# Narrated fault scenarios: docs/walkthroughs/NAME.md and NAME.png (index: docs/WALKTHROUGHS.md).
walkthroughs: $(STAMP)
	$(PY) -m tornwrite.faultinject walkthrough --all $(ARGS)

bench: $(STAMP)
	$(PY) -m tests.bench_engine
	$(PY) -m tests.bench_linearizability
	$(PY) -m tests.bench_program
	$(PY) -m tests.bench_format
	$(PY) -m tests.bench_trace_sources
	$(PY) -m tests.bench_campaign

# Recovery time against WAL and snapshot size: reports/perf/recovery.png and summary.md.
report-perf: $(STAMP)
	$(PY) -m tests.bench_recovery --out reports/perf

# ruff (lint and format) and mypy. mypy cannot follow setuptools' package-dir mapping, so it
# reads the three folders through symlinks named as the package maps them.
lint: $(STAMP)
	mkdir -p $(VENV)/lint/tornwrite
	for d in engine models faultinject; do ln -sfn ../../../$$d $(VENV)/lint/tornwrite/$$d; done
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy -p tornwrite.engine -p tornwrite.models -p tornwrite.faultinject -p tests
