# The two commands: `make run` brings up the whole stack, `make test` runs the tests. Both bootstrap first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SOLIDITY := $(shell find contracts -name '*.sol' 2>/dev/null)

.PHONY: run test test-faults ci bootstrap contracts lint format bench clean clean-data help
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: bootstrap  ## run PostgreSQL, Redis, anvil, signer, worker, beat and web; Ctrl-C stops them all
	$(PY) scripts/devstack.py run

test: bootstrap  ## Django checks and the whole test suite against throwaway services
	$(PY) scripts/devstack.py test $(PYTEST_ARGS)

test-faults: bootstrap  ## fault injection: chain drops and stalls, restarts, SIGKILLs, reorgs, load (~4 min)
	$(PY) scripts/devstack.py test tests/faults -m faults $(PYTEST_ARGS)

ci: bootstrap  ## what CI runs (.ci/run): make test, then the fault suite
	$(MAKE) test
	$(MAKE) test-faults

bootstrap: $(VENV)/.installed node_modules/.installed build/contracts/.built  ## install what is missing (idempotent)

$(VENV)/.installed: requirements.txt enclave_signer/requirements.txt enclave_signer/requirements-dstack.txt sdk/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Python 3.11 is required (found: $(PYTHON)); install python3.11 and run again"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@# The agent SDK (sdk/), editable: the tests and the example agent import launchpad_sdk from the checkout.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e ./sdk
	touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required: install Node.js 20+ (Debian: apt-get install nodejs npm) and run again"; exit 2; }
	@# npm ci wants every platform's optional anvil binary package in the lock; registries that mirror only
	@# this platform's make it refuse. npm install then installs from the same lock, which it leaves unchanged.
	npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

build/contracts/.built: $(SOLIDITY) scripts/compile-contracts.mjs node_modules/.installed
	node scripts/compile-contracts.mjs
	touch $@

contracts: build/contracts/.built  ## compile the Solidity sources (solc-js) into build/contracts

bench: bootstrap  ## print the benchmark figures (see docs/benchmarks.md)
	$(PY) scripts/devstack.py bench bench/report.py

lint:  ## ruff lint and format check, and the rooms' import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format:  ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:  ## delete build output (not the data)
	rm -rf build .pytest_cache .ruff_cache

clean-data:  ## delete the development data in var/ (database, Redis, chain state, signer keys!)
	@test ! -e var/sealing.secret || { echo "var/sealing.secret exists: var/ holds a real deployment's sealed pool keys. Back up var/ (docs/real-network.md, Production runbook) and delete it by hand if you mean to"; exit 2; }
	rm -rf var
