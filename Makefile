# Two commands on a fresh machine:
#   make serve   install everything, build the sample city on first run, serve it on http://127.0.0.1:8000
#   make test    install everything and run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STORE  ?= data/sample.cim.sqlite
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install serve sample test lint check bench bench-quick clean system-deps viewer-deps

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed viewer-deps

# CesiumJS for /viewer and the Khronos glTF validator for the tests (viewer/package-lock.json), when npm exists
viewer/node_modules/.installed: viewer/package.json viewer/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd viewer && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: /viewer (CesiumJS) and the glTF validator are not installed; their tests skip"; fi

viewer-deps: viewer/node_modules/.installed

$(STORE): | $(BIN)/.installed
	$(BIN)/cim sample --store $(STORE)

sample: $(BIN)/.installed
	$(BIN)/cim sample --store $(STORE)

# development mode: imports accept the bearer token `dev-token` (set CIM_WRITE_TOKENS in production)
serve: $(BIN)/.installed viewer-deps $(STORE)
	CIM_DEV=$${CIM_DEV:-1} $(BIN)/cim serve --store $(STORE) --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/system-deps.sh

test: $(BIN)/.installed system-deps viewer-deps check
	$(BIN)/python -m pytest

# the quality gate: formatting, lint (with complexity C90 <= 15 and the public docstrings of cim), types
check lint: $(BIN)/.installed
	$(BIN)/ruff format --check cim tiles api sample_city tests bench
	$(BIN)/ruff check cim tiles api sample_city tests bench
	$(BIN)/python -m mypy cim tiles api

# benchmarks; the peers (pygeoapi, cjio, py3dtiles) and matplotlib go into their own venv, bench/out/peers-venv.
# `make bench` (full) also rewrites the generated peers block of BENCHMARKS.md and docs/bench-latency.png.
bench: $(BIN)/.installed system-deps
	$(BIN)/python -m bench --write-doc

bench-quick: $(BIN)/.installed system-deps
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) data build .pytest_cache
