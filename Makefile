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

.PHONY: run test bench bench-quick bench-browser install install-test system-deps worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install --quiet $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet -e '.[test,scale]'
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

# Issue 11's figures where the user waits: gunicorn + headless Chromium, a few minutes.
bench-browser: install-test system-deps
	$(BIN)/python benchmarks/run.py --browser --only browser

worker: install-test
	$(BIN)/celery -A callbacks.celery_app worker --loglevel=INFO --concurrency=2

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
