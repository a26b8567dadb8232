# make run   - set up and serve the demo clinic on http://127.0.0.1:5000
# make test  - set up and run the whole test suite (PYTEST_ARGS="..." passes arguments to pytest)
# make lint  - ruff and mypy
# make bench - seed the bench clinics (bench/.data/) and time the pages; results in bench/results.jsonl

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app tracker
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint bench install db demo system-deps-run system-deps-test clean

help:
	@echo "make run    set up, migrate, load the demo clinic and serve on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the test suite (PYTEST_ARGS=... for pytest)"
	@echo "make lint   ruff and mypy"
	@echo "make bench  seed 500- and 5,000-patient clinics (cached) and time the pages; bench/results.jsonl"

# The virtualenv, rebuilt only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@echo "Setting up $(VENV) (first run takes a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

system-deps-run:
	bash scripts/system-deps.sh pdf

system-deps-test:
	bash scripts/system-deps.sh pdf browser

# `make run` always uses the development settings, so it never loads demo data into a production database.
db: install system-deps-run
	TRACKER_ENV=development $(FLASK) db upgrade

demo: db
	TRACKER_ENV=development $(FLASK) seed-demo

run: demo
	@echo
	@TRACKER_ENV=development $(FLASK) demo-accounts
	@echo
	@echo "Log in at http://$(HOST):$(PORT)/login  (Ctrl-C stops the server)"
	@echo
	TRACKER_ENV=development exec $(FLASK) run --no-debug --host $(HOST) --port $(PORT)

test: install system-deps-test
	$(BIN)/pytest $(PYTEST_ARGS)

# Its own SQLite files under bench/.data/ (never instance/ or the test database); BENCH_ARGS="--sizes 500" etc.
BENCH_ARGS ?=
bench: install system-deps-run
	$(BIN)/python -m bench $(BENCH_ARGS)

# Both tools run even when the first one finds something; the target fails if either did.
lint: install
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts bench/.data
