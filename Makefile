# aurora-logs: every command a developer or CI needs. `make test` on a fresh machine with
# Python 3.11+, Java 17+ and Maven does everything, downloads included.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
KAFKA_STAMP := .cache/kafka/$(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' kafka/pom.xml)/libs

.DEFAULT_GOAL := help
.PHONY: help setup test lint typecheck fmt pytest stack-up stack-down stack-status run chaos clean \
	images deploy-check compose-config k8s-apply bench bench-parse bench-discovery \
	bench-pipeline bench-simulator

# Images (make images): built with docker buildx from the repository root, tagged
# $(IMAGE_PREFIX)aurora-<name>:$(TAG). One platform is loaded into the local Docker; several
# (PLATFORMS=linux/amd64,linux/arm64) must be pushed to a registry (PUSH=1, with IMAGE_PREFIX
# naming it), as Docker's classic image store cannot hold multi-platform images.
PLATFORMS    ?= linux/arm64
TAG          ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_PREFIX ?=
PUSH         ?= 0
REVISION     := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# image name -> Dockerfile
IMAGES       := discovery:discovery/Dockerfile processor:processor/Dockerfile \
                kafka:kafka/Dockerfile openobserve:openobserve/Dockerfile
# Kubernetes manifests in the order they are applied (secrets are created by hand first; see
# README, "Deploying").
K8S_ORDER    := k8s/setup.yaml k8s/configmaps k8s/services k8s/statefulsets k8s/deployments \
                k8s/daemonsets k8s/ingress k8s/networkpolicies k8s/jobs

help:
	@echo "make setup        virtualenv, the package with its dev extra, Kafka jars (cached)"
	@echo "make test         setup, then lint, type checks and the whole test suite"
	@echo "make run          the whole pipeline on a local stack, live (DURATION=60 stops after 60 s)"
	@echo "make chaos        the fault harness: every scenario against the simulator's truth"
	@echo "                  (about 18 minutes; CHAOS_ARGS=--short compresses the outages, about 5)"
	@echo "make bench        every benchmark below, one after the other (about half an hour)"
	@echo "make bench-parse  parser vs pt-query-digest and pgbadger (CPU s, memory)"
	@echo "make bench-discovery  discovery at fleet scale: RDS calls, detection delay, hand-over"
	@echo "make bench-pipeline   processor throughput vs its own parser alone"
	@echo "make bench-simulator  the simulator's cost for a fleet writing logs"
	@echo "                  (BENCH_ARGS passes options, e.g. BENCH_ARGS=--help)"
	@echo "make lint | typecheck | fmt | pytest"
	@echo "make stack-up     Kafka, Valkey, moto and the OpenObserve contract server in the background"
	@echo "make stack-down   stop them"
	@echo "make clean        remove the virtualenv, caches and local-stack state"
	@echo "make images       build the images with docker buildx (PLATFORMS, TAG, IMAGE_PREFIX, PUSH)"
	@echo "make deploy-check the deployment checks only: manifests, compose, Dockerfiles, provisioning"
	@echo "make compose-config  docker compose config: the compose file as Docker resolves it"
	@echo "make k8s-apply    kubectl apply -f every manifest, in order (KUBECTL to override)"

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

# make run DURATION=60 stops after a minute; RUN_ARGS passes any other option (RUN_ARGS=--help).
DURATION ?= 0
run: setup
	$(PY) -m devstack.run --duration $(DURATION) $(RUN_ARGS)

chaos: setup
	$(PY) -m devstack.chaos $(CHAOS_ARGS)

bench: bench-parse bench-discovery bench-pipeline bench-simulator

bench-parse: setup
	$(PY) -m bench.parse $(BENCH_ARGS)

bench-discovery: setup
	$(PY) -m bench.discovery $(BENCH_ARGS)

bench-pipeline: setup
	$(PY) -m bench.pipeline $(BENCH_ARGS)

bench-simulator: setup
	$(PY) -m bench.simulator $(BENCH_ARGS)

clean: stack-down
	rm -rf $(VENV) .cache .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

images:
	@docker buildx version > /dev/null 2>&1 || { echo "make images: needs Docker with the buildx plugin"; exit 1; }
	@case "$(PLATFORMS),$(PUSH)" in \
	  *,*,0) echo "make images: several platforms need PUSH=1 and IMAGE_PREFIX=<registry>/"; exit 1 ;; \
	esac
	@set -e; for entry in $(IMAGES); do \
	  name=$${entry%%:*}; dockerfile=$${entry#*:}; \
	  if [ "$(PUSH)" = 1 ]; then output=--push; else output=--load; fi; \
	  echo "== $(IMAGE_PREFIX)aurora-$$name:$(TAG) ($(PLATFORMS))"; \
	  docker buildx build --platform "$(PLATFORMS)" -f "$$dockerfile" \
	    --build-arg REVISION="$(REVISION)" \
	    -t "$(IMAGE_PREFIX)aurora-$$name:$(TAG)" $$output . ; \
	done

deploy-check: setup
	$(BIN)/pytest -q tests/deploy tests/processor/test_provisioning.py

compose-config:
	docker compose config --quiet && echo "docker-compose.yml: valid for this Docker Compose"

KUBECTL ?= kubectl
k8s-apply:
	@set -e; for path in $(K8S_ORDER); do $(KUBECTL) apply -f "$$path"; done
