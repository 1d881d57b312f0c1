# Flightline: every target sets itself up on a machine with only Python 3.11+ and pip.
SHELL := /bin/bash
PYTHON ?= python3
# Use uv from PATH when present, else bootstrap it with pip and run it as a module.
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: setup run test test-fast ui serve lint bench

# --compile-bytecode: every process (each dbt invocation, Dagster run, bentoml worker, test
# worker) then loads its packages from .pyc instead of compiling them, which it would do on every
# start where PYTHONDONTWRITEBYTECODE is set, as on CI machines; the first setup takes ~30 s more.
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.5"
	@$(UV) sync --frozen --compile-bytecode --quiet

run: setup ## land 2013, load, model and report
	$(UV) run flightline run

# Tests run on WORKERS processes (pytest-xdist), one test file per worker at a time so a file's
# shared fixtures (a served bento) are built once per worker; the files go out in the order of
# tests/conftest.py (the longest first). Three on two cores: the suite waits on subprocesses (dbt,
# servers, the daemon) much of the time, and a third worker fills those waits (BENCHMARKS.md).
WORKERS ?= 3
PYTEST = $(UV) run pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

test: setup ## the whole suite, what CI runs (real DuckDB, dbt, Dagster runs, bentoml serve, PostgreSQL)
	$(PYTEST) --durations=15  # the long poles, in CI's log too

test-fast: setup ## unit tests and small integration tests: what is not marked slow
	$(PYTEST) -m "not slow"

# PORT=... and HOST=... pick another port or interface (defaults: the CLI's, 3000 / 3001 on 127.0.0.1).
LISTEN = $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

ui: setup ## dagster dev on this project (UI on http://127.0.0.1:3000; make ui PORT=3100)
	$(UV) run flightline ui $(LISTEN)

serve: setup ## bentoml serve the latest bento: http://127.0.0.1:3001 (make serve PORT=3101)
	$(UV) run flightline serve $(LISTEN)

bench: setup ## the benchmark table of BENCHMARKS.md (BENCH_SCALES=1,10,30 by default; ~1 h)
	$(UV) run python -m bench.run

lint: setup
	$(UV) run ruff check .
