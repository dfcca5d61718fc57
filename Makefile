# Rekey - the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
export CGO_ENABLED := 0

# The Python tools (moto_server, cfn-lint) are pinned in infra/tools/requirements.txt;
# infra/tools/pytools.sh finds them in .venv/ or on PATH, or builds .venv/.
# Recipes that run them, or run Go code that starts them, begin with $(PYTOOLS):
# .venv/bin first on PATH when .venv/ is complete.
PYTOOLS = PATH="$$(infra/tools/pytools.sh path)"

.PHONY: dev test bench lambda-local build sizes tools go-modules check-go check-moto check-cfn-lint check-browser lint clean

## dev: the whole system on loopback with a seeded demo district (console at http://127.0.0.1:8080)
dev: check-go check-moto go-modules
	@echo "Compiling Rekey (the first time takes minutes; later runs reuse Go's build cache)..."
	@$(GO) build -o .build/rekey-local ./infra/local
	@$(PYTOOLS) exec .build/rekey-local

# make dev needs no moto_server of its own when AWS_ENDPOINT_URL names an emulator.
dev: MOTO_FLAGS := --endpoint-ok

## test: every test - formatting, vet, template lint, unit, integration (moto) and end-to-end
# -timeout 30m: go test's default of 10 minutes per package is within reach of the browser tests
# on a busy machine (about 6 minutes with seven other builds on two cores); each test's own waits
# stop at infra/testwait's deadline, with a message, long before.
test: check-go check-moto check-cfn-lint check-browser go-modules lint
	$(PYTOOLS) $(GO) test -count=1 -timeout 30m ./...

## bench: the benchmark figures, one `BENCH <name> <value> <unit>` line each (binary sizes last)
bench: check-go check-moto go-modules
	$(PYTOOLS) $(GO) run ./infra/bench
	$(PYTOOLS) $(GO) run ./infra/lambdalocal/cmd/lambda-local -bench
	@$(MAKE) --no-print-directory sizes

## lambda-local: each function booted under the Lambda Runtime Interface Emulator against moto with its events/ sample (no Docker)
# make test runs the same check through infra/lambdalocal's test.
lambda-local: check-go check-moto go-modules
	$(PYTOOLS) $(GO) run ./infra/lambdalocal/cmd/lambda-local

lint: check-cfn-lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt: not formatted: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	$(PYTOOLS) cfn-lint template.yaml

## tools: (re)build .venv/ with the pinned moto and cfn-lint (make dev/test do it when they are missing)
tools:
	@infra/tools/pytools.sh install

## build: stripped linux/arm64 bootstrap binaries, as SAM deploys them, into .build/
build: check-go go-modules
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags='-s -w' -o .build/$$f/bootstrap ./functions/$$f; \
	done

## sizes: the size of each function binary
sizes: build
	@for f in $(FUNCTIONS); do printf 'BENCH binary_size_%s %s bytes\n' "$$(echo $$f | tr - _)" "$$(stat -c %s .build/$$f/bootstrap)"; done

check-go:
	@command -v $(GO) >/dev/null || { echo "missing: Go 1.26 or newer - install it from https://go.dev/dl/" >&2; exit 1; }
	@$(GO) version | awk '{split($$3,v,"."); if (v[2]+0 < 26) {print "missing: Go 1.26 or newer (found " $$3 ")" > "/dev/stderr"; exit 1}}'

# go-modules downloads the Go modules on the first run and says so first; later
# runs find every package they build in the module cache, offline.
go-modules:
	@GOPROXY=off $(GO) list -deps -test ./... >/dev/null 2>&1 || { \
	  echo "Downloading Go modules (go mod download)..."; $(GO) mod download; }
	@GOPROXY=off $(GO) -C infra/tools/rie list -deps tool >/dev/null 2>&1 || { \
	  echo "Downloading the Lambda Runtime Interface Emulator (infra/tools/rie)..."; $(GO) -C infra/tools/rie mod download; }

check-moto:
	@infra/tools/pytools.sh ensure $(MOTO_FLAGS) moto_server

check-cfn-lint:
	@infra/tools/pytools.sh ensure cfn-lint

# The browser tests drive Debian's chromium headless and audit pages with
# axe-core from npm (pinned in infra/browsertest/package-lock.json).
check-browser:
	@command -v chromium >/dev/null || { \
	  echo "chromium is missing: installing Debian's chromium for the browser tests (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	@command -v chromium >/dev/null || { echo "missing: chromium (browser tests) - install it with: apt-get install -y chromium" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "missing: npm (Node.js), used to fetch axe-core for the accessibility audit - install Node.js 20+" >&2; exit 1; }
	@if [ -f infra/browsertest/package-lock.json ]; then npm ci --prefix infra/browsertest --no-audit --no-fund --silent; fi

clean:
	rm -rf .build
