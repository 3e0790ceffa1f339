# tifa — `make run` processes seeds/ into out/; `make test` runs the tests.
# Both create the virtual environment and build the segmentation model on first use; file
# prerequisites mean a second run neither reinstalls nor rebuilds.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODEL  := models/zh_pkuseg/config.cfg
OUT    ?= out
CORPUS ?= ../shared/corpora/gov_work_reports

.PHONY: run test models lint bench clean

run: $(MODEL)
	$(BIN)/tifa run seeds --out $(OUT)

test: $(MODEL)
	$(BIN)/python -m pytest

models: $(MODEL)

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests tifa

bench: $(MODEL)
	$(BIN)/python -m pipeline.bench $(CORPUS)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,maps,parquet]'
	touch $@

$(MODEL): $(STAMP) models/userdict.txt pipeline/build_model.py
	$(BIN)/python -m pipeline.build_model --out models/zh_pkuseg --user-dict models/userdict.txt

clean:
	rm -rf $(VENV) models/zh_pkuseg models/.cache $(OUT)
