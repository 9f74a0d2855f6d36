# Set-up and checks. Everything runs in .venv, created on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: test lint typecheck unit demo bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo needs the package and its command (the cli extra), not the linters and type
# checkers of .[dev]; nothing to install when .[dev] is already there and up to date.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@if [ ! $(STAMP) -nt pyproject.toml ]; then \
		echo "$(BIN)/python -m pip install --quiet -e '.[cli]'"; \
		$(BIN)/python -m pip install --quiet -e '.[cli]'; \
	fi
	touch $(DEMO_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict worksection_async
	$(BIN)/mypy --strict tests/typing/api.py

unit: $(STAMP)
	$(BIN)/pytest

## The whole suite: lint, format, types, tests.
test: lint typecheck unit

## The main job on the built-in FakeWorksection: no account, key or network needed.
demo: $(DEMO_STAMP)
	$(BIN)/worksection demo

## Every benchmark, each printing its figures next to a baseline from the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/big_responses.py
	$(BIN)/python benchmarks/fewest_requests.py
	$(BIN)/python benchmarks/quota_saturation.py
	$(BIN)/python benchmarks/shared_account.py
	$(BIN)/python benchmarks/cancellation.py
	$(BIN)/python benchmarks/shared_quota.py
	$(BIN)/python benchmarks/otel_overhead.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

## The documentation site, into docs/_build/html: nitpicky, every warning an error.
docs: $(STAMP)
	$(BIN)/sphinx-build -q -E -n -W --keep-going -b html docs docs/_build/html
