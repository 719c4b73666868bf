# Two commands on a fresh machine: `make run` and `make test`. Both create .venv and
# install the locked dependencies (uv.lock) first.
VENV       := .venv
PYTHON     := $(VENV)/bin/python
UV         := $(VENV)/bin/uv
UV_VERSION := 0.13.8
BOOTSTRAP_PYTHON ?= python3

DATA       := $(abspath $(or $(FLIGHTLINE_HOME),data))
SLICE      := $(abspath dbt_project/target/ci-slice)

.PHONY: install install-spark run test test-fast lint dbt-slice format ui docs bench fuzz clean

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@# --compile-bytecode: otherwise the first run compiles dagster, dbt and sklearn (~6 s),
	@# and every run and test process does where PYTHONDONTWRITEBYTECODE is set (docs/facts.md).
	@# --locked: fails when uv.lock no longer matches pyproject.toml (--frozen would install the
	@# stale lock without a word).
	$(UV) sync --locked --quiet --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

# The Spark engine's packages (pyproject.toml's `spark` extra, ~450 MB): `make test` installs
# them, `make run` does not. After the plain install, so that its exact sync (which removes
# what the lock does not list for it) never runs after this one.
$(VENV)/.installed-spark: $(VENV)/.installed
	$(UV) sync --locked --quiet --compile-bytecode --extra spark --extra deploy --python $(PYTHON)
	@touch $@

install-spark: $(VENV)/.installed-spark

run: install
	$(VENV)/bin/flightline run

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# The dbt templater opens the profile's database: lint against an in-memory one. It
	@# renders models and analyses; macros it skips (they are rendered inside the models).
	cd dbt_project && FLIGHTLINE_WAREHOUSE=:memory: ../$(VENV)/bin/sqlfluff lint models analyses --processes 2

# What CI runs on a pull request: dbt build, its tests and the sources' freshness on one week
# of real feeds.
dbt-slice: install
	rm -rf $(SLICE)
	FLIGHTLINE_HOME=$(SLICE) $(VENV)/bin/flightline feeds export --from 2013-01-01 --until 2013-01-07
	FLIGHTLINE_HOME=$(SLICE) $(VENV)/bin/flightline ingest
	cd dbt_project && FLIGHTLINE_HOME=$(SLICE) ../$(VENV)/bin/dbt build --target ci --profiles-dir . --target-path $(SLICE)/dbt --quiet
	cd dbt_project && FLIGHTLINE_HOME=$(SLICE) ../$(VENV)/bin/dbt source freshness --target ci --profiles-dir . --target-path $(SLICE)/dbt --quiet

# Two workers, one file each at a time (module fixtures stay in one process), in the order
# tests/conftest.py gives (the longest files first: --no-loadscope-reorder, since xdist's
# loadfile otherwise hands out the files with the most tests first, and the 2-minute file of
# one test came last while the other worker idled for ~90 s), and beside them
# the hands-off test (the real dagster dev, mostly waiting on its daemon), started first in
# a process of its own: handed out late by xdist it set the suite's end (13 min against ~8).
# OMP_NUM_THREADS=1: three test processes (and the runs the hands-off test starts) share two
# cores; scikit-learn's OpenMP threads spin while they wait for each other, and a training
# test that takes 10 s alone took 360 s beside the others.
AUTOMATION_TEST := tests/orchestration/test_automation.py
AUTOMATION_LOG  := dbt_project/target/automation-test.log
test: export OMP_NUM_THREADS = 1
test: lint install-spark
	@# The hands-off test starts first: it is the longest. The CI slice (dbt build in a
	@# target path of its own) runs beside it, then the rest. Lint runs before all of them:
	@# sqlfluff's dbt templater writes dbt_project/target, which the tests read.
	@# nice: the hands-off test builds the January home (the pipelines' test waits for it),
	@# then mostly waits on its daemon's ticks, and ends before the rest; where three
	@# processes want the two cores, the rest's (the Spark test's) come first.
	@# Both pytest processes build the data directories they share once (tests/conftest.py's
	@# _shared): the hands-off test and the pipelines' test start from the same one.
	@export FLIGHTLINE_TEST_SHARED=$$(mktemp -d); \
	trap 'rm -rf -- "$$FLIGHTLINE_TEST_SHARED"' EXIT; trap 'exit 130' INT TERM; \
	nice -n 5 $(PYTHON) -m pytest -q -p no:cacheprovider $(AUTOMATION_TEST) > $(AUTOMATION_LOG) 2>&1 & \
	automation=$$!; \
	if $(MAKE) --no-print-directory dbt-slice; then \
	  $(PYTHON) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=8 --ignore=$(AUTOMATION_TEST); \
	else echo "make dbt-slice failed: pytest did not run"; false; fi; \
	rest=$$?; \
	wait $$automation; hands_off=$$?; \
	$(VENV)/bin/flightline-dbt stop-server || true; \
	echo "--- $(AUTOMATION_TEST) (beside the rest):"; tail -n 30 $(AUTOMATION_LOG); \
	exit $$(( rest || hands_off ))

# The inner loop of a change: ruff and every test but the end-to-end ones (marked e2e: the
# whole pipeline, weeks of real data); `make test` runs them all.
test-fast: export OMP_NUM_THREADS = 1
test-fast: install
	$(VENV)/bin/ruff check .
	$(PYTHON) -m pytest -n 2 -m "not e2e" -p no:cacheprovider --durations=5

# The loader's fuzzer for FUZZ_MINUTES (make test runs 25 examples of it): batches of
# FUZZ_BATCH examples, each batch with a new seed; stops at the first failing example.
FUZZ_MINUTES ?= 30
FUZZ_BATCH   ?= 200
fuzz: install
	@end=$$(( $$(date +%s) + 60 * $(FUZZ_MINUTES) )); runs=0; \
	while [ $$(date +%s) -lt $$end ]; do \
		runs=$$((runs + 1)); seed=$$(date +%s)$$runs; \
		FLIGHTLINE_FUZZ_EXAMPLES=$(FUZZ_BATCH) FLIGHTLINE_FUZZ_SEED=$$seed $(PYTHON) -m pytest -q \
			-p no:cacheprovider tests/ingest/load/test_fuzz_loader.py --hypothesis-seed=$$seed \
			|| { echo "fuzz: failed in batch $$runs (seed $$seed)"; exit 1; }; \
	done; \
	echo "fuzz: $$runs batches x $(FUZZ_BATCH) examples in $(FUZZ_MINUTES) min, nothing found"

# Benchmarks, not tests: ~3 hours on 2 cores (30M synthetic flights: ~25 GB of disk; the
# Spark engine's month, 1M and 10M on both engines: ~1 hour), rewrites
# BENCHMARKS.md; parts: .venv/bin/python benchmarks/run.py --only ingest,scoring (see README).
bench: install-spark
	$(PYTHON) benchmarks/run.py

# dbt docs as one static page (open it from the file path); its catalog reads the warehouse.
docs: install
	cd dbt_project && FLIGHTLINE_WAREHOUSE=$$(test -f $(DATA)/warehouse/warehouse.duckdb && echo $(DATA)/warehouse/warehouse.duckdb || echo :memory:) \
		../$(VENV)/bin/dbt docs generate --static --profiles-dir . --target-path $(DATA)/docs/dbt --quiet
	@echo "dbt docs: file://$(DATA)/docs/dbt/static_index.html"

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ui: install
	$(VENV)/bin/flightline ui

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
