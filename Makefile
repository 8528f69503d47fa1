# The two commands of the README: `make run` and `make test`. Each bootstraps .venv from
# pyproject.toml when needed (and again when pyproject.toml changes). `make test` also provides
# PostgreSQL and Chromium (scripts/ensure-postgres.sh, scripts/ensure-chromium.sh: apt-get on
# Debian when missing); `make run` needs neither.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-k postgresql -x'
PYTEST_ARGS ?=
# pytest-xdist workers for make test (auto: one per core; 0: all in one process)
TEST_WORKERS ?= auto

.PHONY: venv run demo test lint bench check postgres-stop clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "atrest needs Python >= 3.11 (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

## venv: only create .venv with atrest installed (make run and make test do this themselves)
venv: $(VENV)/.installed

# Ports for `make run` and `make demo` (PORT=9000), and the demo's moto server (MOTO_PORT);
# empty: ATREST_PORT / ATREST_DEMO_MOTO_PORT when set, else 8000 and a free port.
PORT ?=
MOTO_PORT ?=

## run: start the web app on http://127.0.0.1:8000 (migrations applied first; PORT=...)
run: $(VENV)/.installed
	$(BIN)/atrest serve $(if $(PORT),--port $(PORT))

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	@touch $@ $(VENV)/.installed

## demo: the web app with a local moto S3/KMS/CloudTrail/STS server and sample buckets (PORT=...,
## MOTO_PORT=...)
## (no AWS account needed; dummy credentials, everything on 127.0.0.1)
demo: $(VENV)/.installed-demo
	$(BIN)/atrest demo $(if $(PORT),--port $(PORT)) $(if $(MOTO_PORT),--moto-port $(MOTO_PORT))

## test: lint, format check, type check, then the whole suite on SQLite and PostgreSQL, browser
## tests in Chromium (the PostgreSQL server reaches pytest as ATREST_TEST_POSTGRES_URL)
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-report-tools.sh
	pg="$$(ATREST_PYTHON=$(BIN)/python bash scripts/ensure-postgres.sh)" \
	  && export "$$pg" && echo "$$pg" \
	  && $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## lint: only ruff and mypy
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

## bench: the benchmarks under bench/ (figures printed); bench/web.py needs wrk (apt-get install
## wrk); bench/probe.py compares with Prowler when installed (bench/probe.py --install-prowler)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/advisor.py
	$(BIN)/python bench/cli.py
	command -v wrk >/dev/null || apt-get install -y -q wrk
	$(BIN)/python bench/web.py
	$(BIN)/python bench/probe.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/report.py

## check: verify the rule set (atrest rules check)
check: $(VENV)/.installed
	$(BIN)/atrest rules check

## postgres-stop: stop and delete the throwaway PostgreSQL cluster, if `make test` made one
postgres-stop:
	bash scripts/ensure-postgres.sh --stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
