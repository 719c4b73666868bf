# Two commands on a fresh machine: `make run` and `make test`. Both create .venv and
# install the locked dependencies (uv.lock) first.
VENV       := .venv
PYTHON     := $(VENV)/bin/python
UV         := $(VENV)/bin/uv
UV_VERSION := 0.13.8
BOOTSTRAP_PYTHON ?= python3

.PHONY: install run test lint format ui docs clean

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@# --compile-bytecode: otherwise the first run compiles dagster, dbt and sklearn (~6 s).
	$(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/flightline run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The dbt templater opens the profile's database: lint against an in-memory one.
	cd dbt_project && FLIGHTLINE_WAREHOUSE=:memory: ../$(VENV)/bin/sqlfluff lint models --processes 2

test: lint
	$(PYTHON) -m pytest

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ui: install
	$(VENV)/bin/flightline ui

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
