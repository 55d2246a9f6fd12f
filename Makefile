# The two commands a newcomer needs: `make test` and `make demo`. Both bootstrap a fresh Debian
# machine first (apt packages when missing, npm ci, build).
SHELL := /bin/bash
JEST := NODE_OPTIONS=--experimental-vm-modules npx jest
# The Debian release whose kernel is the oldest the VM tier boots (see test-vm).
VM_OLDEST_SUITE := bullseye

.PHONY: all bootstrap build lint test test-unit test-integration test-privileged test-vm demo bench clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@npm run --silent build

lint: build
	npx tsc -p tsconfig.json --noEmit
	npx eslint .
	npx prettier --check .

test: build lint
	$(JEST) --selectProjects unit
	$(JEST) --selectProjects integration --runInBand
	$(JEST) --selectProjects privileged --runInBand
	$(JEST) --selectProjects vm --runInBand
	TERWAY_VM_SUITE=$(VM_OLDEST_SUITE) $(JEST) --selectProjects vm --runInBand

test-unit: build
	$(JEST) --selectProjects unit

test-integration: build
	$(JEST) --selectProjects integration --runInBand

test-privileged: build
	$(JEST) --selectProjects privileged --runInBand

# The VM tier: ipvlan, which this kernel lacks, on Debian's kernel under QEMU (scripts/vm/). It
# installs QEMU and fetches the kernel on first use (root + apt), skips loudly where it cannot
# run, and fails instead when CI=true or TERWAY_VM_REQUIRED=1. It runs twice: on apt's kernel, and
# on the oldest kernel terway-node supports, Debian bullseye's 5.10 (Alibaba Cloud Linux 3's base).
test-vm: build
	$(JEST) --selectProjects vm --runInBand
	TERWAY_VM_SUITE=$(VM_OLDEST_SUITE) $(JEST) --selectProjects vm --runInBand

demo: build
	@node scripts/demo.mjs

bench: build
	@node dist/bench/run-all.js

clean:
	rm -rf dist
