# registry_widgets: two commands do all set-up on a fresh Debian 12 machine.
#   make lab    start the local registry (and the engine where possible), seed a sample
#               image, open JupyterLab on notebooks/ and print its URL
#   make test   install everything, run the suite (its fixtures start their own services)
# `make help` lists the rest.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Flags for scripts/install, e.g. INSTALL_FLAGS=--no-browser
INSTALL_FLAGS ?=
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-k reference -x'
PYTEST_ARGS ?=
# A hung test should end the run with a message before CI's own 90-minute limit does.
TEST_TIMEOUT ?= 75m
LAB_PORT ?= 8888
# Empty: a fresh random token each time.
LAB_TOKEN ?=
BENCH_ARGS ?=
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help install services services-down status test lab bench lint clean distclean

help:
	@echo "make lab            registry + engine + sample image, then JupyterLab on notebooks/"
	@echo "make test           install, then run the test suite (PYTEST_ARGS=...)"
	@echo "make install        Debian packages (as root) and .venv (INSTALL_FLAGS=--no-browser)"
	@echo "make services       start the local registries and the engine (scripts/services up)"
	@echo "make services-down  stop them"
	@echo "make status         show what is running"
	@echo "make bench          run benchmarks/ (BENCH_ARGS=...)"
	@echo "make lint           syntax checks (and ruff, when installed)"
	@echo "make clean          stop services, remove state and build output (distclean: .venv too)"

install:
	@bash scripts/install $(INSTALL_FLAGS)

services: install
	@bash scripts/services up

services-down:
	@if [ -x $(PY) ] && [ -f scripts/services ]; then bash scripts/services down; else echo "services-down: nothing to stop"; fi

status:
	@if [ -x $(PY) ] && [ -f scripts/services ]; then bash scripts/services status; else echo "status: no $(VENV) or scripts/services yet; run 'make install'"; fi

test: install
	@rc=0; timeout --foreground -k 60 $(TEST_TIMEOUT) $(VENV)/bin/pytest -q --durations=10 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc = 124 ]; then echo "test: pytest ran past TEST_TIMEOUT=$(TEST_TIMEOUT) and was stopped" >&2; fi; \
	exit $$rc

# Only what the lab needs (no test extras, no chromium): `make test` installs the rest.
lab:
	@bash scripts/install --lab $(INSTALL_FLAGS)
	@bash scripts/services up --seed || echo "lab: warning: 'scripts/services up --seed' failed; the notebooks that need a registry will say so"
	@mkdir -p .state
	@token='$(LAB_TOKEN)'; token=$${token:-$$($(PY) -c 'import secrets; print(secrets.token_hex(24))')}; \
	url="http://127.0.0.1:$(LAB_PORT)/lab?token=$$token"; \
	echo "$$url" > .state/lab-url; \
	echo; echo "lab: JupyterLab on notebooks/ at  $$url"; echo "lab: (also in .state/lab-url; Ctrl-C stops it, 'make services-down' stops the registry)"; echo; \
	exec $(VENV)/bin/jupyter lab notebooks/ --ip=127.0.0.1 --port=$(LAB_PORT) --port-retries=0 \
	  --no-browser $(ALLOW_ROOT) --IdentityProvider.token="$$token"

bench: install
	@if [ -d benchmarks ]; then $(PY) -m benchmarks $(BENCH_ARGS); else echo "bench: no benchmarks/ package yet"; fi

lint:
	@bash -n scripts/install .ci/run $(wildcard scripts/services)
	@if [ -x $(PY) ]; then py=$(PY); else py=python3; fi; \
	$$py -m compileall -q registry_widgets devstack tests $(wildcard benchmarks); \
	if $$py -m ruff --version >/dev/null 2>&1; then $$py -m ruff check .; else echo "lint: ruff not installed; syntax only"; fi

clean: services-down
	rm -rf .state runs build *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
