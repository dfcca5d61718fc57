# Rekey - the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
export CGO_ENABLED := 0

.PHONY: dev test bench build sizes check-go check-moto check-cfn-lint check-browser lint clean

## dev: the whole system on loopback with a seeded demo district (console at http://127.0.0.1:8080)
dev: check-go check-moto
	$(GO) run ./infra/local

## test: every test - formatting, vet, template lint, unit, integration (moto) and end-to-end
# -timeout 30m: go test's default of 10 minutes per package is within reach of the browser tests
# on a busy machine (about 6 minutes with seven other builds on two cores); each test's own waits
# stop at infra/testwait's deadline, with a message, long before.
test: check-go check-moto check-cfn-lint check-browser lint
	$(GO) test -count=1 -timeout 30m ./...

## bench: the benchmark figures, one `BENCH <name> <value> <unit>` line each (binary sizes last)
bench: check-go check-moto
	$(GO) run ./infra/bench
	@$(MAKE) --no-print-directory sizes

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt: not formatted: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml

## build: stripped linux/arm64 bootstrap binaries, as SAM deploys them, into .build/
build: check-go
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags='-s -w' -o .build/$$f/bootstrap ./functions/$$f; \
	done

## sizes: the size of each function binary
sizes: build
	@for f in $(FUNCTIONS); do printf 'BENCH binary_size_%s %s bytes\n' "$$(echo $$f | tr - _)" "$$(stat -c %s .build/$$f/bootstrap)"; done

check-go:
	@command -v $(GO) >/dev/null || { echo "missing: Go 1.26 or newer - install it from https://go.dev/dl/" >&2; exit 1; }
	@$(GO) version | awk '{split($$3,v,"."); if (v[2]+0 < 26) {print "missing: Go 1.26 or newer (found " $$3 ")" > "/dev/stderr"; exit 1}}'

check-moto:
	@command -v moto_server >/dev/null || { echo "missing: moto_server (local AWS) - install it with: pip install 'moto[server]'" >&2; exit 1; }

check-cfn-lint:
	@command -v cfn-lint >/dev/null || { echo "missing: cfn-lint (template checks) - install it with: pip install cfn-lint" >&2; exit 1; }

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
