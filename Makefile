# Targets for a laptop and for CI. `make` alone lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
PORT ?= 8000
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help run test fmt lint typecheck migrations-check schema static check bench bench-smoke clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(RUN_STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(RUN_STAMP) ## set up and start web + worker + beat on SQLite (http://127.0.0.1:8000/admin/; PORT=8001 for another port)
	$(PY) manage.py supervise --prepare --bind 127.0.0.1:$(PORT)

test: $(DEV_STAMP) ## run the test suite
	$(PY) -m pytest

fmt: $(DEV_STAMP) ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: $(DEV_STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP) ## mypy with django-stubs
	$(VENV)/bin/mypy .

migrations-check: $(DEV_STAMP) ## fail when models changed without a migration
	$(PY) manage.py makemigrations --check --dry-run

schema: $(DEV_STAMP) ## validate the OpenAPI schema
	$(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml

static: lint typecheck migrations-check schema ## every check but the tests

check: static test ## everything CI runs

bench: $(DEV_STAMP) ## print benchmark figures (needs a scratch DATABASE_URL and CELERY_BROKER_URL)
	$(PY) bench/cron_bench.py
	$(PY) bench/dispatch_bench.py
	$(PY) bench/dispatch_profile.py 10000 --rounds 3
	$(PY) bench/burst_bench.py 1000 10000
	$(PY) bench/history_bench.py 1000000
	$(PY) bench/steady_bench.py --seconds 20
	$(PY) bench/idle_bench.py 1000 10000 100000 1000000
	$(PY) bench/scale_bench.py --schedules 20000 --runs 2000 --repeat 2

bench-smoke: $(DEV_STAMP) ## every benchmark at a tiny size (CI: they still run end to end)
	$(PY) bench/dispatch_profile.py 200 --rounds 1
	$(PY) bench/burst_bench.py 100 --peer-cap 30 --cap 60
	$(PY) bench/history_bench.py 10000 --peer-size 1000 --repeat 5 --schedules 1000
	$(PY) bench/steady_bench.py --seconds 3 --smoke
	$(PY) bench/idle_bench.py 1000 --repeat 5 --edits 3 --peer-edits 1
	$(PY) bench/scale_bench.py --schedules 200 --runs 20 --layouts 2 --publishing mock

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var
