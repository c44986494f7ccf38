# adsync — the commands a person types. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

# gosec release used by `make lint`.
GOSEC_VERSION ?= v2.30.0
# How long `make fuzz` runs each fuzz test.
FUZZTIME ?= 60s

# Variables of the benchmarks.
CLIENTS ?= 50
WORKERS ?= 2

.PHONY: help build test test-race lint services demo bench-ratelimit bench-throughput bench-queue up clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build the binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

services: ## start PostgreSQL and Redis on this machine if they are not running
	@scripts/services.sh

test: services ## run every test against real Redis and PostgreSQL (the CI command)
	$(GO) vet ./...
	$(GO) test -race -count=1 -parallel 4 -timeout 30m ./...
	@command -v kubectl >/dev/null || echo "kubectl not found: skipping kubectl kustomize; checking the manifests as written, the README's overlay unrendered"
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 -timeout 10m ./...

lint: ## gofmt, go vet, staticcheck and gosec
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags chaos ./internal/chaos/
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.7.0
	staticcheck -tags chaos ./...
	cd deploy/kubernetes && $(GO) vet ./... && staticcheck ./...
	$(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION)
	gosec -quiet -tags chaos ./...

demo: build services ## the main job on this machine: mock + worker + a full sync of one client at time scale 60
	@scripts/demo.sh

# Where bench-ratelimit draws its chart (committed as docs/img/ratelimit.svg).
RATELIMIT_CHART ?= docs/img/ratelimit.svg

bench-ratelimit: build services ## sync CLIENTS clients (default 50) with WORKERS workers at time scale 60; RESULT line at the end; chart in RATELIMIT_CHART
	CLIENTS=$(CLIENTS) WORKERS=$(WORKERS) CHART=$(RATELIMIT_CHART) $(GO) run ./bench/ratelimit

up: ## the whole system in Docker: PostgreSQL, Redis, mock, 2 workers, scheduler, asynqmon
	docker compose up --build

clean: ## remove build output
	rm -rf $(BIN)

bench-throughput: build services ## 100 clients x 1,000 campaigns, no platform limits, WORKERS workers: group commit vs a commit per campaign; RESULT line at the end (PROFILE=1 adds a perf profile)
	WORKERS=$(WORKERS) $(GO) run ./bench/throughput

bench-queue: services ## asynq alone on this machine: TASKS save tasks (default 100,000) through WORKERS no-op workers; the CPU floor under bench-throughput
	WORKERS=$(WORKERS) $(GO) run ./bench/queue

.PHONY: compose-check e2e-browser

compose-check: ## validate docker-compose.yml with Debian's docker-compose (no engine needed) and the Dockerfile's static build
	@command -v docker-compose >/dev/null || { apt-get update && apt-get install -y docker-compose; }
	docker-compose -f docker-compose.yml config --quiet
	CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null ./cmd/...
	@echo "compose-check: docker-compose.yml is valid; the static build succeeds"

e2e-browser: services ## headless Chromium on asynqmon's dead letters after a poisoned sync (installs Debian's chromium if missing); screenshot in docs/img/asynqmon-dead-letters.png
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }
	$(GO) test -tags browser -count=1 -v -timeout 10m ./e2e/browser/

.PHONY: chaos fuzz

chaos: build services ## fault-injection tests: real worker, enqueuer and mock processes; workers killed, stores restarted, platform down, Redis Sentinel failover, Redis Cluster (about 6 min)
	@scripts/redis-ha.sh
	$(GO) vet -tags chaos ./internal/chaos/
	ADSYNC_BIN=$(CURDIR)/$(BIN) $(GO) test -tags chaos -count=1 -timeout 20m -v ./internal/chaos/

fuzz: ## run each fuzz test for FUZZTIME (default 60s); new failing inputs land in testdata/fuzz
	@for f in FuzzDecodePage FuzzListCampaigns FuzzErrorAnswer; do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./internal/platform/ || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/campaign/

.PHONY: docs-check

docs-check: ## every relative link and #anchor of README.md and docs/ leads somewhere (make test runs it too)
	$(GO) test -count=1 ./internal/doclinks/

.PHONY: bench-scale

bench-scale: build services ## the same sync (SCALE_CLIENTS=20 at time scale 60) and the unthrottled pass with SCALE_WORKERS=1,2,4 worker processes; RESULT line at the end
	$(GO) run ./bench/scale
