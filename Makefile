# The project's tasks in one place. `make help` lists them; every target uses the venv in $(VENV).

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
SHELL_SOURCES := common/build distros common/root .ci/run

.DEFAULT_GOAL := help
.PHONY: help setup test fast lint format engine rehearsal ci

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: ## make the venv and install Helios with its CLI and dev tools
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[cli]' --group dev

test: ## the offline suite (the command CI runs)
	$(PYTHON) -m pytest

fast: ## the offline suite without the slow and network tests
	$(PYTHON) -m pytest -m "not slow and not network"

lint: ## ruff, formatting, mypy and the shell formatter, all read-only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/shfmt --diff $(SHELL_SOURCES)

format: ## rewrite Python and shell sources in the house style
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/shfmt --write $(SHELL_SOURCES)

engine: ## the tests that build real images (needs the dagger CLI and an engine)
	dagger run $(PYTHON) -m pytest -m engine tests/engine

rehearsal: ## the Debian build, boot and browser check for real (root; see docs/rehearsal.md)
	$(PYTHON) -m pytest -m rehearsal tests/rehearsal

ci: ## what CI runs, end to end
	bash .ci/run
