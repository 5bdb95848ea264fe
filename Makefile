# One command for the main job, one for the tests; each sets itself up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= build/demo-experiment

.PHONY: demo test lint bench clean

## lint: ruff on the whole repository
lint: $(BIN)/hera-utils
	$(BIN)/ruff check .

$(BIN)/hera-utils: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

## demo: generate an example experiment from the template and run it on this machine
demo: $(BIN)/hera-utils
	$(BIN)/python -m hera_utils.demo --dest $(DEMO_DIR)

## test: lint and run the whole test suite
test: $(BIN)/hera-utils
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

## bench: print the benchmark ratios
bench: $(BIN)/hera-utils
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
