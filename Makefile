# make run   - set up and serve the demo clinic on http://127.0.0.1:5000 (development server and worker)
# make serve - serve the production way on this machine: gunicorn and the worker (needs SECRET_KEY, DATABASE_URL)
# make test  - set up and run the whole test suite (PYTEST_ARGS="..." passes arguments to pytest)
# make lint  - ruff (check and format --check) and mypy
# make bench - seed the bench clinics (bench/.data/) and time the pages; results in bench/results.jsonl
# make loadtest - many users at once through gunicorn, on SQLite and PostgreSQL; results in bench/load-results.jsonl

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app tracker
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run serve test lint bench loadtest install install-load db demo system-deps-run system-deps-test clean

help:
	@echo "make run    set up, migrate, load the demo clinic and serve on http://$(HOST):$(PORT)"
	@echo "make serve  migrate and serve the production way: gunicorn + worker (needs SECRET_KEY, DATABASE_URL)"
	@echo "make test   set up and run the test suite (PYTEST_ARGS=... for pytest)"
	@echo "make lint   ruff check, ruff format --check, mypy strict"
	@echo "make bench  seed 500- and 5,000-patient clinics (cached) and time the pages; bench/results.jsonl"
	@echo "make loadtest  10, 25, 50 users at once through gunicorn on SQLite and PostgreSQL (~8 min once seeded)"

# The virtualenv, rebuilt only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@echo "Setting up $(VENV) (first run takes a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The load benchmark's tools (Locust, py-spy), only for make loadtest: the suite does not need them.
$(VENV)/.installed-load: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,load]'
	touch $@

install-load: $(VENV)/.installed-load

system-deps-run:
	bash scripts/system-deps.sh pdf

system-deps-test:
	bash scripts/system-deps.sh pdf browser redis

# `make run` always uses the development settings, so it never loads demo data into a production database.
db: install system-deps-run
	TRACKER_ENV=development $(FLASK) db upgrade

demo: db
	TRACKER_ENV=development $(FLASK) seed-demo

run: demo
	@echo
	@TRACKER_ENV=development $(FLASK) demo-accounts
	@echo
	@echo "Log in at http://$(HOST):$(PORT)/login  (Ctrl-C stops the server and the worker)"
	@echo
	TRACKER_ENV=development exec bash scripts/with-worker.sh $(FLASK) run --no-debug --host $(HOST) --port $(PORT)

# Production settings on one machine: the operator supplies SECRET_KEY (or SECRET_KEY_FILE) and DATABASE_URL (README,
# "Deployment"); the migrations run first, then gunicorn (gunicorn.conf.py) and the worker, stopped together.
serve: install system-deps-run
	TRACKER_ENV=production $(FLASK) db upgrade
	TRACKER_ENV=production exec bash scripts/with-worker.sh $(BIN)/gunicorn -c gunicorn.conf.py

test: install system-deps-test
	$(BIN)/pytest $(PYTEST_ARGS)

# Its own SQLite files under bench/.data/ (never instance/ or the test database); BENCH_ARGS="--sizes 500" etc.
BENCH_ARGS ?=
bench: install system-deps-run
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not part of make test or CI (it takes minutes): LOADTEST_ARGS="--databases sqlite --seconds 20" etc. The PostgreSQL
# run makes its databases beside LOADTEST_POSTGRES_URL's (the role needs CREATEDB); without it, on a throwaway
# PostgreSQL 15 server of its own on loopback (scripts/system-deps.sh postgres installs it).
LOADTEST_ARGS ?=
loadtest: install-load system-deps-run
	$(if $(LOADTEST_POSTGRES_URL),,bash scripts/system-deps.sh postgres)
	$(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

# Both tools run even when the first one finds something; the target fails if either did.
lint: install-load
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts bench/.data
