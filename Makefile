# Two commands: `make test` and `make report`. Both bootstrap .venv from pyproject.toml.
# `make test-extended` runs the checks too slow for `make test` (CI runs both, see .ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-extended report bench lint lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

NBVAL_DIR := .nbval-smoke
# Slow checks, left out of `make test`: the report in a real browser (needs Debian's chromium), every
# lesson notebook on every default scenario with its findings checked against its numbers.
EXTENDED_TESTS := tests/test_browser.py tests/test_every_scenario.py

test: $(STAMP)
	$(VENV)/bin/ruff check simlib tests notebooks
	$(PY) -m pytest -q tests $(addprefix --ignore=,$(EXTENDED_TESTS))
	@# nbval on the smoke scenario: papermill only injects the parameters (no execution),
	@# then nbval runs each prepared copy top to bottom in a fresh kernel.
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR)
	for notebook in notebooks/0*.ipynb; do \
		$(VENV)/bin/papermill --prepare-only --log-level WARNING -p scenario smoke $$notebook $(NBVAL_DIR)/$$(basename $$notebook) || exit 1; \
	done
	$(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider $(NBVAL_DIR)

test-extended: $(STAMP)
	$(PY) -m pytest -q $(EXTENDED_TESTS)

report: $(STAMP)
	$(VENV)/bin/simlib batch params/batches/default.yaml

bench: $(STAMP)
	$(PY) -m simlib.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check simlib tests notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name screenshot.png -exec rm -rf {} +
