# Two commands: `make test` and `make report`. Both bootstrap .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test report bench lint lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check simlib tests notebooks
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider notebooks/0*.ipynb

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
