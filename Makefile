# The two commands a newcomer needs: `make test` and `make demo`. Both bootstrap a fresh Debian
# machine first (apt packages when missing, npm ci, build).
SHELL := /bin/bash
JEST := NODE_OPTIONS=--experimental-vm-modules npx jest

.PHONY: all bootstrap build lint test test-unit test-integration test-privileged demo bench clean

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

test-unit: build
	$(JEST) --selectProjects unit

test-integration: build
	$(JEST) --selectProjects integration --runInBand

test-privileged: build
	$(JEST) --selectProjects privileged --runInBand

demo: build
	@node scripts/demo.mjs

bench: build
	@node dist/bench/run-all.js

clean:
	rm -rf dist
