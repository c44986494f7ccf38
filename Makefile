# adsync — the commands a person types. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

# Variables of the benchmarks.
CLIENTS ?= 50
WORKERS ?= 2

.PHONY: help build test test-race lint services demo bench-ratelimit bench-throughput up clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build the binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

services: ## start PostgreSQL and Redis on this machine if they are not running
	@scripts/services.sh

test: services ## run every test against real Redis and PostgreSQL (the CI command)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

lint: ## gofmt, go vet, staticcheck and gosec
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.7.0
	staticcheck ./...

demo: build services ## the main job on this machine: mock + worker + a full sync of one client at time scale 60
	@scripts/demo.sh

bench-ratelimit: build services ## sync CLIENTS clients (default 50) with WORKERS workers at time scale 60; RESULT line at the end
	CLIENTS=$(CLIENTS) WORKERS=$(WORKERS) $(GO) run ./bench/ratelimit

up: ## the whole system in Docker: PostgreSQL, Redis, mock, 2 workers, scheduler, asynqmon
	docker compose up --build

clean: ## remove build output
	rm -rf $(BIN)
