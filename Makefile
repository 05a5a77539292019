# Vigil: `make run` serves the app on the demo data, `make test` runs every test.
# Both build the virtual environment (.venv) on first use from pyproject.toml.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8501
WRITE_PYC := env -u PYTHONDONTWRITEBYTECODE

.PHONY: install test test-fast run demo bench chromium clean

## uv (from the package registry, into the venv) installs the project and its dependencies: on a fresh 2-core
## machine 61 s, against 145 s for pip, most of it building pyspark's wheel from its source archive (2026-12-07).
## uv, unlike pip, compiles no bytecode at install: Python writes a module's .pyc when it first imports it. Where
## PYTHONDONTWRITEBYTECODE is set (as on CI) every process (each test worker, app server and CLI call) would
## compile pandas, plotly, streamlit... from source again, so the tests run without it (WRITE_PYC): the first
## process to import a module writes its .pyc. Compiling all of the environment at install instead
## (--compile-bytecode) took 30 s more, most of it for modules no test imports (pyspark's, 2026-12-07).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Browser tests drive Debian's chromium; install it when it is missing (needs root or sudo).
chromium:
	@bash scripts/ensure-chromium

## All tests: unit, AppTest, browser end-to-end and the Spark parity test. Three workers on two cores: the
## browser groups and the Spark group mostly wait on their app servers, Chromium and the JVM, so a third
## worker keeps both cores busy (at an earlier stop -n 4 was slower). Fresh clone, 2026-12-07: 288-436 s of tests,
## 5 min 22 s to 8 min 11 s with the install, the same suite within the hour as the machine's speed moved about
## 1.5x (tests/conftest.py gives each DuckDB connection one thread: 502 -> 370 s).
## The virtual environment and chromium are installed side by side (-j2) on a fresh machine. --no-loadscope-reorder:
## xdist hands out the tests in the order tests/conftest.py gives them (pytest_collection_modifyitems).
test:
	@$(MAKE) --no-print-directory -j2 $(STAMP) chromium
	$(WRITE_PYC) $(BIN)/python -m pytest -n 3 --dist loadgroup --no-loadscope-reorder

## Unit and AppTest only (no browser).
test-fast: $(STAMP)
	$(WRITE_PYC) $(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder -m "not e2e"

## Build the demo portfolio if the database is missing, then serve the app on localhost.
run: $(STAMP)
	$(BIN)/vigil demo --if-missing
	@echo ""
	@echo "Vigil is starting on http://localhost:$(PORT)"
	@echo "Sign in with a user from data/demo-credentials.txt (one per role, e.g. ada.admin)."
	@echo ""
	$(BIN)/streamlit run app/server.py --server.port $(PORT) --server.address localhost --server.headless true

demo: $(STAMP)
	$(BIN)/vigil demo --force

## Benchmarks print their figures; they assert nothing.
bench: $(STAMP)
	$(WRITE_PYC) $(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal data/bench
