# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUNTIME_STAMP := $(VENV)/.runtime-$(HASH)
DEV_STAMP     := $(VENV)/.dev-$(HASH)

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.runtime-*
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.dev-* $(VENV)/.runtime-*
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

## demo: the product on its embedded default (SQLite, in-process bus and jobs, no accounts)
demo: $(RUNTIME_STAMP)
	$(BIN)/solai demo

## test: ruff, mypy and import rules (as tests), then the whole pytest suite
test: $(DEV_STAMP)
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache var
