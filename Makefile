# make demo: the pipeline on the embedded defaults. make test: lint, types, unit and
# integration tests. make faults: signals, supervision, crash, rebalance and outage tests
# (CI runs both).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test faults lint unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps so a second `make` does not reinstall; pyproject.toml changes reinstall.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/referrals demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(VENV)/.installed-test lint
	PYTHON=$(BIN)/python bash .ci/ensure-system-deps.sh
	$(BIN)/pytest -q -p no:cacheprovider -m "not faults" --durations=15

# Signals, supervision, crash, rebalance and outage tests on Apache Kafka and the embedded
# broker: long (about 20 minutes), so kept out of `make test`. Each loop prints its figures.
faults: $(VENV)/.installed-test
	PYTHON=$(BIN)/python bash .ci/ensure-system-deps.sh
	$(BIN)/pytest -q -p no:cacheprovider -m faults -rfExX tests/integration

unit: $(VENV)/.installed-test
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

# Every figure of issue 6 in under 20 minutes; e.g. BENCH_ARGS="--quick --only e2e".
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache build *.egg-info
