# The README's commands. `make demo` runs the demo site; `make test` runs the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format schema bench install manage stop

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## run the demo site (PostgreSQL, Redis, Celery worker + beat, web); Ctrl-C stops it
	$(BIN)/python -m config.devstack demo $(ARGS)

test: $(STAMP)  ## run the whole test suite on the same local stack
	$(BIN)/python -m config.devstack test $(ARGS)

manage: $(STAMP)  ## a manage.py command on the demo stack: make manage ARGS="newsrec_train"
	$(BIN)/python -m config.devstack manage $(ARGS)

stop: $(STAMP)  ## stop the embedded PostgreSQL (and Redis) that `python -m config.devstack env` left running
	$(BIN)/python -m config.devstack stop

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy .
	$(BIN)/lint-imports

schema: $(STAMP)  ## regenerate docs/openapi.yaml from the code (tests compare the two)
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
