# The README's two commands are `make demo` and `make test`; each creates the
# virtual environment it needs first. Nothing else is assumed on the machine
# but python3 (3.11 or newer) with venv, and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench screenshots clean

# libp2p pulls in trio-typing, whose old trio-stubs would shadow the inline
# types of the trio we run (mypy prefers stub packages). The stubs are for
# type checking only: trio_typing itself stays.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	rm -rf $(VENV)/lib/python3*/site-packages/trio-stubs
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/doorwatch demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' editable-install finder, so give it a
# directory in which `doorwatch` is a link to the repository root.
typecheck: $(STAMP)
	mkdir -p .build/mypy && ln -sfn "$(CURDIR)" .build/mypy/doorwatch
	MYPYPATH=.build/mypy $(BIN)/mypy -p doorwatch.segments -p doorwatch.crypto -p doorwatch.protocol -p doorwatch.node -p doorwatch.cli

pytest: $(STAMP)
	$(BIN)/pytest

# `make bench` runs them all; `make bench B=scan` runs one.
bench: $(STAMP)
	$(BIN)/python -m bench $(B)

# The guides' screenshots (docs/img), from two real daemons and Debian's Chromium.
screenshots: $(STAMP)
	mkdir -p .build/pp && ln -sfn "$(CURDIR)" .build/pp/doorwatch
	PYTHONPATH=.build/pp $(BIN)/python -m doorwatch.tests.console.screenshots docs/img

clean:
	rm -rf $(VENV) .build .pytest_cache .mypy_cache .ruff_cache
