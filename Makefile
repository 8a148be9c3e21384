# Two commands: `make test` and `make report`. Both bootstrap .venv from pyproject.toml.
# `make test-extended` runs the checks too slow for `make test` (CI runs both, see .ci/run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-extended report bench lint lab lab-app clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

NBVAL_DIR := .nbval-smoke
# Slow checks, left out of `make test`: the report in a real browser (needs Debian's chromium), every
# lesson notebook on every default scenario with its findings checked against its numbers, and the
# whole "my group" path from a hidden group's export to its report.
EXTENDED_TESTS := tests/test_browser.py tests/test_every_scenario.py tests/test_pipeline.py

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

# `make report DATA=export.csv [MEMBERS=480] [NAME=mygroup]`: your own group's report (see README, "My
# group"): calibrate the export, every strategy on it, the report in reports/$(NAME)/. Without DATA,
# the default batch on the article's figures.
report: $(STAMP)
ifdef DATA
	$(VENV)/bin/simlib report --data $(DATA) $(if $(MEMBERS),--members $(MEMBERS)) $(if $(NAME),--name $(NAME))
else
	$(VENV)/bin/simlib batch params/batches/default.yaml
endif

bench: $(STAMP)
	$(PY) -m simlib.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check simlib tests notebooks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# The strategy lab as a web app for people who do not code (Voilà: text, controls and results, no code).
LAB_PORT ?= 8866
lab-app: $(STAMP)
	@echo "Strategy lab: open http://127.0.0.1:$(LAB_PORT)/ in a browser (Ctrl-C stops it)"
	$(VENV)/bin/voila notebooks/00_strategy_lab.ipynb --no-browser --port=$(LAB_PORT) --Voila.ip=127.0.0.1

clean:
	rm -rf $(VENV)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name screenshot.png -exec rm -rf {} +
