# `make run` and `make test` work on a fresh machine: each creates .venv when missing.
# torch==2.13.0 (the CPU wheel) is installed before everything else: a plain `torch`
# requirement would pull a multi-GB CUDA build.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# one worker per core, each file on one worker (its module fixtures built once): the suite is
# CPU-bound, 7 min 14 s on one core's worth of pytest, 4 min 43 s on two workers (issue 14)
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: install run ui ingest test test-fast lint browser-deps clean-store install-check

# The dev extra takes the web page, the LLM clients and the trainer with it (web, llm, train).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]' torch==2.13.0
	touch $(STAMP)

install: $(STAMP)

# Builds or updates the store (with a progress bar), then serves the chat page on 127.0.0.1:7860.
run: install
	$(BIN)/assistant ui

ingest: install
	$(BIN)/assistant ingest

# Debian's Chromium and its driver, for the browser tests (no browser download).
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "chromium/chromium-driver missing and not root: browser tests will be skipped"; fi

test: install browser-deps
	$(BIN)/ruff check assistant ui tests
	$(BIN)/mypy assistant ui
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	PYTHON=$(PYTHON) .ci/install_check

# `pip install .` (not editable, no extras) into a fresh venv, then ingest and ask from an
# empty folder with ASSISTANT_CORPUS_DIR: the package as a user installs it (a few minutes).
install-check:
	PYTHON=$(PYTHON) .ci/install_check

test-fast: install  # every test but those on the real model (the fake embedder: no model)
	$(BIN)/python -m pytest -m "not real_model" -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check assistant ui tests
	$(BIN)/ruff format --check assistant ui tests
	$(BIN)/mypy assistant ui
