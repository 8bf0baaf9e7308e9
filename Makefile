# techsapo-operator: `make test` sets up everything it needs from nothing and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
SCANNERS := .venv-scanners
SCANNERS_INSTALLED := $(SCANNERS)/.installed
SOURCES := techsapo_operator controlplane tests scripts

.DEFAULT_GOAL := help
.PHONY: help demo demo-down bench-gateway venv scanners redis-server lint format crds controlplane cluster-up cluster-down cluster-status unit test faults bench clean

demo: controlplane ## the main job: cluster, install, operator, the three examples, the result
	scripts/demo.sh

demo-down: $(INSTALLED) ## stop what make demo started
	scripts/demo-down.sh

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(INSTALLED) ## create the virtual environment with the package and its dev tools

# checkov and trivy pin dependencies of their own, so they get a virtual environment apart.
$(SCANNERS_INSTALLED): tests/scanners/requirements.txt
	$(PYTHON) -m venv $(SCANNERS)
	$(SCANNERS)/bin/pip install --quiet --upgrade pip
	$(SCANNERS)/bin/pip install --quiet -r tests/scanners/requirements.txt
	touch $@

scanners: $(SCANNERS_INSTALLED) ## install checkov and trivy (the manifest checkers) into .venv-scanners

redis-server: ## install Debian's redis-server (the Redis Cluster tests run it), if it is missing
	@command -v redis-server >/dev/null || { \
	  echo "installing Debian's redis-server and redis-tools (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@redis-server --version

lint: $(INSTALLED) ## ruff and mypy --strict
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy $(SOURCES)

format: $(INSTALLED) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

crds: $(INSTALLED) ## regenerate crds/ from the API types
	$(BIN)/techsapo-operator crd > crds/techsapo.io_techsapos.yaml

controlplane: $(INSTALLED) ## build (or reuse from the cache) the control plane binaries
	$(BIN)/python -m controlplane.build

cluster-up: controlplane ## start the local control plane (.cluster/kubeconfig)
	$(BIN)/python -m controlplane.cluster up

cluster-down: $(INSTALLED) ## stop the local control plane and remove its state
	$(BIN)/python -m controlplane.cluster down

cluster-status: $(INSTALLED) ## say whether the local control plane runs
	$(BIN)/python -m controlplane.cluster status

unit: $(INSTALLED) ## the fast tests: no cluster
	$(BIN)/pytest -m 'not integration'

test: lint controlplane scanners redis-server ## lint, then every test (the integration tests start or reuse the cluster)
	$(BIN)/pytest

faults: controlplane ## only the fault tests: kills, restarts, server errors, throttling, two replicas
	$(BIN)/pytest -m faults

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

bench: controlplane $(BENCH_INSTALLED) ## the operator at N=10, 100, 300 beside the API server's own limit and kubectl (about 15 min)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

bench-gateway: $(INSTALLED) ## what the MCP gateway adds to a tool call, against calling the server directly
	$(BIN)/python scripts/bench_gateway.py

clean: cluster-down ## remove the virtual environment and caches (not the binary cache)
	rm -rf $(VENV) $(SCANNERS) .mypy_cache .ruff_cache .pytest_cache *.egg-info
