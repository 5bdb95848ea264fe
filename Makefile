# One command for the main job, one for the tests; each sets itself up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= build/demo-experiment
# Every package a generated experiment installs (and builds with), fetched once from the
# package index, so that the journey test installs a fresh environment offline.
WHEELHOUSE := build/wheelhouse

.PHONY: demo test lint bench clean wheelhouse conformance schema

## lint: ruff on the whole repository, mypy (strict) on hera_utils/
lint: $(BIN)/hera-utils
	$(BIN)/ruff check .
	$(BIN)/mypy

$(BIN)/hera-utils: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## demo: generate an example experiment from the template and run it on this machine
demo: $(BIN)/hera-utils
	$(BIN)/python -m hera_utils.demo --dest $(DEMO_DIR)

## wheelhouse: the packages of a generated experiment, for the offline journey test
wheelhouse: $(WHEELHOUSE)/.filled

$(WHEELHOUSE)/.filled: pyproject.toml | $(BIN)/hera-utils
	$(BIN)/python -m pip wheel --quiet --wheel-dir $(WHEELHOUSE) '.[test]' \
		'hatchling>=1.21' 'setuptools>=64' 'pip' 'wheel'
	# hera_utils itself must come from where the template was copied, never from here.
	rm -f $(WHEELHOUSE)/hera_utils-*.whl
	@touch $@

## test: lint and run the whole test suite (the journey test included), on every CPU
test: lint $(WHEELHOUSE)/.filled
	$(BIN)/python -m pytest -q -n auto

## bench: print the benchmark ratios
bench: $(BIN)/hera-utils
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

## conformance: run Argo's own examples locally (EXAMPLES=dir; not part of the tests)
conformance: $(BIN)/hera-utils
	$(BIN)/python tools/conformance.py $(EXAMPLES) --table

## schema: fetch Argo's JSON schema for ARGO_VERSION (by hand, when the emulated Argo moves on)
ARGO_VERSION ?= v4.1.2
SCHEMA_URL := https://raw.githubusercontent.com/argoproj/argo-workflows/$(ARGO_VERSION)/api/jsonschema/schema.json
schema: $(BIN)/hera-utils
	$(BIN)/python -c "import json, sys, urllib.request; \
	text = urllib.request.urlopen(sys.argv[1], timeout=60).read(); json.loads(text); \
	open(sys.argv[2], 'wb').write(text)" \
		$(SCHEMA_URL) hera_utils/testing/data/argo-workflows-$(ARGO_VERSION).schema.json

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .mypy_cache
