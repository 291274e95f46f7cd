# The README's commands. `make demo` runs the demo site; `make test` runs the whole test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Two lock files pin every package (setuptools, pip and the dev tools included) to one version and
# the sha256 of its files, and pip refuses anything else: requirements.lock holds what the apps
# need at run time (the Docker image installs it), requirements-dev.lock adds the dev extras at the
# same versions. pip's own configuration (extra indexes, find-links) says where files come from;
# the locks hold no address.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-find-links --no-emit-index-url --no-emit-trusted-host --quiet

.PHONY: demo test lint format schema bench install manage stop lock lock-check

$(STAMP): pyproject.toml $(DEV_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

lock: $(STAMP)  ## after editing pyproject.toml's dependencies: re-resolve both lock files (other pins kept)
	$(COMPILE) -o $(LOCK) pyproject.toml
	$(COMPILE) --extra=dev -c $(LOCK) -o $(DEV_LOCK) pyproject.toml

lock-check: $(STAMP)  ## fail if a lock file no longer matches pyproject.toml (CI runs it)
	@tmp="$$(mktemp -d)" && trap 'rm -rf "$$tmp"' EXIT && cp $(LOCK) $(DEV_LOCK) "$$tmp" \
	&& $(COMPILE) -o "$$tmp/$(LOCK)" pyproject.toml \
	&& $(COMPILE) --extra=dev -c $(LOCK) -o "$$tmp/$(DEV_LOCK)" pyproject.toml \
	&& diff -u $(LOCK) "$$tmp/$(LOCK)" && diff -u $(DEV_LOCK) "$$tmp/$(DEV_LOCK)" \
	|| { echo "$(LOCK) or $(DEV_LOCK) is out of date: run make lock and commit both" >&2; exit 1; }
	@echo "$(LOCK) and $(DEV_LOCK) match pyproject.toml"

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
