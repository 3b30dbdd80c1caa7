# aurora-logs: every command a developer or CI needs. `make test` on a fresh machine with
# Python 3.11+, Java 17+ and Maven does everything, downloads included.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
KAFKA_STAMP := .cache/kafka/$(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' kafka/pom.xml)/libs

.DEFAULT_GOAL := help
.PHONY: help setup test lint typecheck fmt pytest stack-up stack-down stack-status run clean

help:
	@echo "make setup        virtualenv, the package with its dev extra, Kafka jars (cached)"
	@echo "make test         setup, then lint, type checks and the whole test suite"
	@echo "make run          the whole pipeline on a local stack"
	@echo "make lint | typecheck | fmt | pytest"
	@echo "make stack-up     Kafka, Valkey, moto and the OpenObserve contract server in the background"
	@echo "make stack-down   stop them"
	@echo "make clean        remove the virtualenv, caches and local-stack state"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

$(KAFKA_STAMP): kafka/pom.xml | $(STAMP)
	$(PY) -m devstack.kafka

setup: $(STAMP) $(KAFKA_STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

pytest: setup
	$(BIN)/pytest

test: lint typecheck pytest

stack-up: setup
	$(PY) -m devstack up

stack-down:
	@test -x $(PY) && $(PY) -m devstack down || true

stack-status: setup
	$(PY) -m devstack status

run: setup
	@echo "make run: the end-to-end pipeline arrives with the simulator, discovery and processor work;"
	@echo "until then, 'make stack-up' starts the local stack for manual work."
	@exit 1

clean: stack-down
	rm -rf $(VENV) .cache .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
