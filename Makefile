# trustbundle-operator — every command a developer or CI needs.
# Node 24 comes from the `node` dev dependency: node_modules/.bin goes first on PATH.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
NODE_RUN := node --experimental-vm-modules --no-warnings=ExperimentalWarning

.PHONY: all deps tools test test-unit test-e2e lint typecheck build crds crds-check bench demo demo-down \
        cluster-up cluster-down run soak clean help

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.installed ## install npm dependencies (npm ci) and the system packages the tests use
	@hack/install-system-deps.sh

tools: ## build (or reuse) kube-apiserver, etcd, kwok, kubectl in ~/.cache/trustbundle-operator
	hack/build-tools.sh plane

lint: node_modules/.installed ## eslint + prettier --check
	eslint .
	prettier --check .

typecheck: node_modules/.installed ## tsc --noEmit over sources, tests and e2e
	tsc -p tsconfig.json

build: node_modules/.installed ## compile the operator to operator/dist
	tsc -p tsconfig.build.json

crds: node_modules/.installed ## regenerate crds/ (and the chart's copy) from the TypeScript API schema
	node operator/src/api/generate-crds.ts
	cp crds/*.yaml charts/trustbundle-operator/crds/

test-unit: node_modules/.installed ## unit tests (pure core, adapters)
	$(NODE_RUN) node_modules/jest/bin/jest.js $(JEST_ARGS) --selectProjects unit

test-e2e: deps ## e2e tests against KUBECONFIG, or a local control plane started for the run
	$(NODE_RUN) node_modules/jest/bin/jest.js $(JEST_ARGS) --runInBand --selectProjects e2e

test: deps lint typecheck test-unit test-e2e ## everything CI runs

bench: deps ## benchmarks: figures printed and written to bench-results/, nothing asserted
	node e2e/bench/run.ts

cluster-up: ## start the local control plane; writes .cluster/kubeconfig
	hack/cluster.sh up

cluster-down: ## stop the local control plane and remove its data
	hack/cluster.sh down

run: node_modules/.installed ## run the operator against the current KUBECONFIG
	node operator/src/main.ts

demo: deps ## the whole story on a local control plane: PKI, operator, nginx mTLS checks
	hack/demo.sh up

demo-down: ## stop everything the demo started
	hack/demo.sh down

clean: cluster-down ## remove build output (the tool cache in ~/.cache stays)
	rm -rf operator/dist coverage bench-results .demo

.PHONY: audit
audit: node_modules/.installed ## npm audit of the runtime dependencies (what the image ships)
	npm audit --omit=dev

.PHONY: manifests
manifests: node_modules/.installed ## copy the generated CRD into the chart and render deploy/ from the chart
	deploy/render.sh

.PHONY: chart-alerts
chart-alerts: node_modules/.installed ## promtool unit tests of the chart's alerts (builds promtool once, a few minutes)
	charts/trustbundle-operator/tests/alerts.sh

# The fault suites at full length (SOAK=1): 100 operator crashes, 5 kube-apiserver and 5 etcd
# kills, 3 rounds of authorization-server faults, 20 leader failovers, the bad-input corpus,
# 3,000 generated CRD specs and 30 random sequences against targets. `make test` runs the same suites bounded (~3 minutes). Ends with the
# table (written to docs/reliability.md) and the `soak:` line.
SOAK_RESULTS := $(CURDIR)/.cluster/faults-results/soak
soak: deps ## fault, failover and bad-input suites at full length; writes docs/reliability.md
	@rm -rf $(SOAK_RESULTS)
	@export SOAK=1 FAULTS_RESULTS_DIR=$(SOAK_RESULTS); \
	$(NODE_RUN) node_modules/jest/bin/jest.js operator/test/bundle/corpus.test.ts --selectProjects unit \
		--json --outputFile=$(SOAK_RESULTS)/jest/unit.json; unit=$$?; \
	$(NODE_RUN) node_modules/jest/bin/jest.js e2e/faults --runInBand --selectProjects e2e \
		--json --outputFile=$(SOAK_RESULTS)/jest/e2e.json; e2e=$$?; \
	SOAK_REPORT=1 SOAK_JEST_EXIT=$$(( unit || e2e )) node e2e/faults/report.ts; report=$$?; \
	exit $$(( unit || e2e || report ))
