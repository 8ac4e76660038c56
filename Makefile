# HEAN: every target bootstraps .venv (Python 3.11) on first use.
#   make demo    a synthetic session through the software mirror, with a summary
#   make test    the test suite (unit, property and gateware-layout tests)
#   make bench   throughput benchmarks of the mirror (prints messages per second)
#   make lint    ruff check + format check

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: demo test bench lint format clean help lock

help:
	@sed -n '1,7p' Makefile | sed 's/^# \{0,1\}//'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Rewrite constraints.txt from the current .venv (after a deliberate change of pins).
lock: $(STAMP)
	@{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > constraints.tmp
	@mv constraints.tmp constraints.txt && echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages"

demo: $(STAMP)
	@mkdir -p $(DEMO)
	$(BIN)/hean synth -o $(DEMO)/session.hl2 --instruments 3 --messages 2000000 --seed 7
	$(BIN)/hean features $(DEMO)/session.hl2 -o $(DEMO)/session.hlf
	$(BIN)/hean summary $(DEMO)/session.hlf
	$(BIN)/hean inspect $(DEMO)/session.hlf --rows 3

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/bench_mirror.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
