# The two commands a new user runs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-unit test-slow test-bigquery test-airflow lint format bench emulator status doctor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

## demo: start the emulator (medium company), sync into .demo/demo.duckdb, build models, summary
demo: $(STAMP)
	$(PY) -m pipelines.demo

## test: the whole fast suite (end-to-end against the emulator, real DuckDB)
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not slow and not bigquery and not airflow" -q

## test-unit: pure logic only, no server, socket or child process (tests/unit_guard.py), < 60 s
test-unit: $(STAMP)
	$(PY) -m pytest -m unit -q

## test-slow: the long cases CI runs too
test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

## test-bigquery: end-to-end on a local BigQuery emulator (its own venv under .bqemu/, ~650 MB)
test-bigquery: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,postgres,bigquery]'
	$(PY) -m pytest -m bigquery -q

## test-airflow: the DAG in a real Airflow 3 (`airflow dags test`; its own venv under .airflow/, ~650 MB)
test-airflow: $(STAMP)
	scripts/airflow-venv.sh setup
	$(PY) -m pytest -m airflow -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## bench: v1 and v2, ~1 h (BENCH_ARGS="--quick" skips large, "--api v2" one version); BENCHMARKS.md
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

## status: where the demo pipeline stands (ARGS="--destination postgres ..." for yours)
status: $(STAMP)
	$(VENV)/bin/learning360 status --pipelines-dir .demo/pipelines --duckdb-path .demo/demo.duckdb $(ARGS)

## doctor: check config, credentials, destination and models before a sync
doctor: $(STAMP)
	$(VENV)/bin/learning360 doctor $(ARGS)

emulator: $(STAMP)
	$(VENV)/bin/learning360 emulator --size medium

# learning360.duckdb is your tenant's warehouse now (the demo keeps to .demo/): not removed
clean:
	rm -rf .demo .bench .pytest_cache .ruff_cache
