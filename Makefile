# hw1-lab: `make report` builds the report, `make test` runs the tests.
# Both create .venv and fetch MNIST the first time.

PROFILE ?= quick
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
MNIST := data/MNIST/raw/.verified
NBCONVERT_FLAGS := --to html --embed-images --no-prompt $(if $(filter 1,$(SHOW_CODE)),,--no-input)

.PHONY: report test data venv lab bench pdf clean help
.DELETE_ON_ERROR:
.SECONDARY:

help:
	@echo "make report [PROFILE=quick|full] [SHOW_CODE=1]  execute the notebooks and render report/"
	@echo "make test                                     run the test suite"
	@echo "make data                                     fetch and verify MNIST into data/MNIST/raw"
	@echo "make lab                                      open JupyterLab on notebooks/"
	@echo "make bench                                    run the benchmarks (docs/BENCHMARKS.md)"
	@echo "make clean                                    remove build/ and report/ outputs"

venv: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 (hw1-lab)"
	touch $@

data: $(MNIST)

$(MNIST): | $(INSTALLED)
	$(PY) -m hwlib.data
	touch $@

report: report/index.html

report/index.html: $(PAGES) $(HWLIB)
	$(PY) -m hwlib.report

# papermill saves the notebook after every cell, so it writes to a partial
# file that is renamed only when the whole notebook ran
$(BUILD)/%.ipynb: notebooks/%.ipynb params/%/$(PROFILE).yaml $(HWLIB) | $(INSTALLED) $(MNIST)
	@mkdir -p $(BUILD)
	$(VENV)/bin/papermill --kernel $(KERNEL) --cwd notebooks --log-output \
		-f params/$*/$(PROFILE).yaml $< $(BUILD)/$*.partial.ipynb
	mv $(BUILD)/$*.partial.ipynb $@

$(REPORT)/%.html: $(BUILD)/%.ipynb $(REPORT)/.show-code-$(SHOW_CODE)
	$(VENV)/bin/jupyter nbconvert $(NBCONVERT_FLAGS) --output-dir $(REPORT) $<

$(REPORT)/.show-code-$(SHOW_CODE):
	@mkdir -p $(REPORT)
	@rm -f $(REPORT)/.show-code-*
	@touch $@

test: $(INSTALLED) $(MNIST)
	$(VENV)/bin/pytest

lab: $(INSTALLED) $(MNIST)
	$(VENV)/bin/jupyter lab --notebook-dir notebooks

clean:
	rm -rf build report/quick report/full report/custom report/index.html
