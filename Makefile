# hw1-lab: `make report` builds the report, `make test` runs the tests.
# Both create .venv and fetch MNIST the first time.

PROFILE ?= quick
PROFILES := $(sort $(basename $(notdir $(wildcard params/*/*.yaml))))
ifeq ($(filter $(PROFILE),$(PROFILES)),)
$(error unknown PROFILE '$(PROFILE)'; expected one of: $(PROFILES) (the YAML files under params/<notebook>/))
endif
SHOW_CODE ?= 0
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := hw1-lab
BUILD := build/$(PROFILE)
REPORT := report/$(PROFILE)

NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
NAMES := $(notdir $(basename $(NOTEBOOKS)))
EXECUTED := $(NAMES:%=$(BUILD)/%.ipynb)
PAGES := $(NAMES:%=$(REPORT)/%.html)
HWLIB := $(wildcard hwlib/*.py)
INSTALLED := $(VENV)/.installed
DATA_ROOT ?= data
MNIST := $(DATA_ROOT)/MNIST/raw/.verified
# extra papermill arguments after the profile, e.g. PAPERMILL_ARGS="-p profile custom -p cnn_epochs 20"
PAPERMILL_ARGS ?=
# OpenMP threads of each notebook's kernel: 1 when make runs jobs in parallel (-j),
# so that notebooks share the cores instead of oversubscribing them, else every core.
# Idle threads sleep instead of spinning: with spinning, one busy core stalls every
# parallel step (an epoch ran 10x slower under load, see docs/BENCHMARKS.md).
NB_THREADS ?=
NB_ENV = OMP_WAIT_POLICY=PASSIVE \
	OMP_NUM_THREADS=$(or $(NB_THREADS),$(if $(filter -j%,$(MAKEFLAGS)),1,$(N_CORES)))
N_CORES := $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)
NBCONVERT_FLAGS := --to html --embed-images --no-prompt $(if $(filter 1,$(SHOW_CODE)),,--no-input)

.PHONY: report test data venv lab bench pdf pdf-tools clean help doctor
.DELETE_ON_ERROR:

help:
	@echo "make report [PROFILE=quick|full] [SHOW_CODE=1]  execute the notebooks and render report/"
	@echo "make test                                     run the test suite"
	@echo "make data                                     fetch and verify MNIST into data/MNIST/raw"
	@echo "make lab                                      open JupyterLab on notebooks/"
	@echo "make bench                                    run the benchmarks (docs/BENCHMARKS.md)"
	@echo "make pdf [PROFILE=quick|full]                 print the report into report/hw1-report-PROFILE.pdf"
	@echo "make clean                                    remove build/ and report/ outputs"
	@echo
	@echo "Environment: MNIST_SOURCE=<folder with the four .gz files> for offline data;"
	@echo "NB_THREADS=<n> sets torch threads per notebook; PAPERMILL_ARGS='-p name value'"
	@echo "passes overrides to every notebook; DATA_ROOT is used by the tests only (notebooks read data/)."

venv: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 (hw1-lab)"
	touch $@

# `make data` checks the files every time; other targets trust the stamp file
data: | $(INSTALLED)
	$(PY) -m hwlib.data --root $(DATA_ROOT)
	@touch $(MNIST)

$(MNIST): | $(INSTALLED)
	$(PY) -m hwlib.data --root $(DATA_ROOT)
	touch $@

report: report/index.html

# the kernel, papermill and nbconvert are in place (order-only, so it forces no rebuild)
doctor: | $(INSTALLED)
	@$(PY) -m hwlib.doctor --kernel $(KERNEL)

report/index.html: $(PAGES) $(HWLIB)
	$(PY) -m hwlib.report

# static pattern rules, so executed notebooks and pages are explicit targets: make
# keeps them and rebuilds one that is missing. papermill saves the notebook after
# every cell, so it writes to a partial file that is renamed only when the whole
# notebook ran
$(EXECUTED): $(BUILD)/%.ipynb: notebooks/%.ipynb params/%/$(PROFILE).yaml $(HWLIB) | $(INSTALLED) $(MNIST) doctor
	@mkdir -p $(BUILD)
	$(NB_ENV) $(VENV)/bin/papermill --kernel $(KERNEL) --cwd notebooks --log-output \
		-f params/$*/$(PROFILE).yaml $(PAPERMILL_ARGS) $< $(BUILD)/$*.partial.ipynb
	mv $(BUILD)/$*.partial.ipynb $@

# the stamp contains the SHOW_CODE of the last render and is rewritten when it
# changes, so the pages are rendered again
SHOW_CODE_STAMP := $(REPORT)/.show-code
ifneq ($(SHOW_CODE),$(shell cat $(SHOW_CODE_STAMP) 2>/dev/null))
$(shell mkdir -p $(REPORT) && echo $(SHOW_CODE) > $(SHOW_CODE_STAMP) && rm -f $(REPORT)/.show-code-*)
endif

$(PAGES): $(REPORT)/%.html: $(BUILD)/%.ipynb $(SHOW_CODE_STAMP) | doctor
	$(VENV)/bin/jupyter nbconvert $(NBCONVERT_FLAGS) --output-dir $(REPORT) $<

# headless Chromium prints each page and pdfunite (poppler-utils) merges them;
# when either is missing and make runs as root, apt-get installs both
PDF_TOOLS_HINT := apt-get install chromium poppler-utils

pdf: report pdf-tools
	$(PY) -m hwlib.report --pdf $(PROFILE)

pdf-tools:
	@if ! { command -v chromium || command -v chromium-browser; } >/dev/null \
		|| ! command -v pdfunite >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "make pdf: installing chromium and poppler-utils with apt-get (running as root)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				chromium poppler-utils || { echo "error: $(PDF_TOOLS_HINT) failed" >&2; exit 1; }; \
		else \
			echo "error: make pdf needs chromium and pdfunite; install them with: sudo $(PDF_TOOLS_HINT)" >&2; \
			exit 1; \
		fi; \
	fi

# figures into bench/results.json and the table in docs/BENCHMARKS.md; most of the time is
# the quick report built from scratch. Side-by-side benchmarks run in torch's default
# thread settings, the same for both sides; bench.threads compares the settings.
bench: | $(INSTALLED) $(MNIST)
	$(PY) -m bench.mnist_epoch
	$(PY) -m bench.flops
	$(PY) -m bench.ensemble
	$(PY) -m bench.threads
	$(PY) -m bench.report_time
	$(PY) -m bench.table

test: $(INSTALLED) $(MNIST)
	$(VENV)/bin/pytest

lab: $(INSTALLED) $(MNIST)
	$(VENV)/bin/jupyter lab --notebook-dir notebooks

clean:
	rm -rf build report/quick report/full report/custom report/index.html report/hw1-report-*.pdf
