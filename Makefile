# Every target bootstraps .venv itself, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Reinstalled whenever pyproject.toml is newer than the stamp.
STAMP := $(VENV)/.installed

.PHONY: test crash-test mutants walkthroughs bench report-perf lint

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n auto

# The main job: every crash point of the default workloads, under both fault kinds.
crash-test: $(STAMP)
	$(PY) -m tornwrite.faultinject campaign

# The bug zoo: every catalogued mutant must be caught, and the real engine must pass.
mutants: $(STAMP)
	$(PY) -m tornwrite.faultinject mutants

# Narrated fault scenarios: reports/walkthroughs/NAME.md and NAME.png (index: docs/WALKTHROUGHS.md).
walkthroughs: $(STAMP)
	$(PY) -m tornwrite.faultinject walkthrough --all

bench: $(STAMP)
	$(PY) -m tests.bench_engine
	$(PY) -m tests.bench_linearizability

# Recovery time against WAL and snapshot size: reports/perf/recovery.png and summary.md.
report-perf: $(STAMP)
	$(PY) -m tests.bench_recovery --out reports/perf

lint: $(STAMP)
	$(PY) -m compileall -q engine faultinject models tests
