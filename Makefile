# Claimbench — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded default for local use: SQLite, filesystem broker, DEBUG on.
DEV_ENV := DEBUG=True
# The production commands; docker-compose.yml runs exactly these (a test checks it).
WEB_CMD := gunicorn workbench.wsgi:application --bind 0.0.0.0:8000 --workers 4 --timeout 60 --access-logfile -
WORKER_CMD := celery -A workbench worker --loglevel=INFO --concurrency=2
MIGRATE_CMD := python manage.py migrate --noinput
BEAT_CMD := celery -A workbench beat --loglevel=INFO --schedule=/tmp/celerybeat-schedule

.DEFAULT_GOAL := help
.PHONY: help run test check lint fmt typecheck bench install install-dev migrate demo worker beat serve-prod clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed  ## create .venv and install runtime dependencies

install-dev: $(VENV)/.installed-dev  ## install test and lint dependencies too

migrate: install  ## apply database migrations
	$(DEV_ENV) $(PY) manage.py migrate --noinput

demo: migrate  ## load the demo project and users (once)
	$(DEV_ENV) $(PY) manage.py load_demo

run: demo  ## set up and serve on http://127.0.0.1:8000 with a Celery worker (Ctrl-C stops both)
	$(DEV_ENV) HOST=$(HOST) PORT=$(PORT) PY=$(PY) scripts/serve.sh

worker: install  ## run only a Celery worker (uses the environment's settings)
	$(VENV)/bin/$(WORKER_CMD)

beat: install  ## run Celery beat (periodic tasks: expiring old export files)
	$(VENV)/bin/$(BEAT_CMD)

serve-prod: install  ## run gunicorn as in production (needs SECRET_KEY, ALLOWED_HOSTS; after collectstatic)
	$(VENV)/bin/$(MIGRATE_CMD)
	$(VENV)/bin/$(WEB_CMD)

test: install-dev  ## set up and run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-dev  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install-dev  ## format and fix what ruff can
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install-dev  ## mypy over the app
	$(VENV)/bin/mypy annotations workbench

check: lint typecheck test  ## what CI runs: lint, types, tests

bench: install-dev  ## run the benchmarks in bench/ (set DATABASE_URL for PostgreSQL)
	@for script in bench/*_bench.py; do name=$$(basename $$script .py); echo "== $$name"; $(PY) -m bench.$$name || exit 1; done

clean:  ## remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
