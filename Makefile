# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install assets run test services lint bench screenshots translations clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "ОШИБКА: нужен Python 3.11+ ($(PYTHON)); укажите другой: make run PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## make assets: the front end (form-js viewer, bpmn-js, the template editors) from the npm registry, bundled into web/static/dist
ASSET_SOURCES := web/package.json web/package-lock.json web/build.mjs $(wildcard web/assets/*) $(wildcard web/assets/lib/*)
web/static/dist/.built: $(ASSET_SOURCES)
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "ОШИБКА: нужны Node.js 18+ и npm (сборка скриптов страниц из реестра npm): установите пакеты nodejs и npm" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund && npm run build
	touch $@

assets: web/static/dist/.built

## make run: install, create/upgrade the database (SQLite by default), deploy templates, load the demo region, serve
run: install assets
	./scripts/report_tools.sh --warn
	$(BIN)/roadmap init
	$(BIN)/roadmap demo
	$(BIN)/roadmap serve --host $(HOST) --port $(PORT)

## make services: bring up PostgreSQL and Redis on this machine if they are down
services:
	./scripts/services.sh
	./scripts/browser.sh
	./scripts/report_tools.sh

## make test: the whole suite against real PostgreSQL and Redis (and SQLite where it applies)
test: install assets services
	$(BIN)/ruff check engine web workers tests migrations
	$(BIN)/mypy
	$(BIN)/pytest

## make bench: the benchmarks in bench/ (a few minutes; prints one summary line each)
# Long runs: bench/http_load.py --per-client 100, bench/memory.py --due 100000 --jobs 50 (docs/performance.md).
# bench/throughput.py --core --profile 200: the target ratio, statements and a CPU profile of the completion only.
bench: install services
	$(BIN)/python bench/sweep_scaling.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/task_list.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/bulk_start.py
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/memory.py --completions 10000

## make screenshots: refresh docs/screenshots from the browser tests
screenshots: install assets services
	ROADMAP_SCREENSHOTS=1 $(BIN)/pytest tests/e2e -q

## make translations: extract the UI texts and add new ones to web/translations/{en,ru}/LC_MESSAGES/messages.po
translations: install
	$(BIN)/python scripts/translations.py

lint: install
	$(BIN)/ruff check engine web workers tests migrations
	$(BIN)/mypy

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache web/node_modules web/static/dist
