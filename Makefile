# Makefile: the project's commands. Run `make help` for the list.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# Go 1.26.10: Go 1.26.8 has standard-library vulnerabilities that govulncheck
# reports as reachable. The go command fetches this toolchain from the module
# proxy on first use (about 76 MB). Machines set to GOTOOLCHAIN=local ignore the
# toolchain line in go.mod, hence the export.
GOTOOLCHAIN ?= go1.26.10
export GOTOOLCHAIN

# The googleapis .proto files the API imports (google/api) and those of the error
# details it returns (google/rpc) are not in any Go module as .proto files: `make
# proto-deps` takes them from this npm package into the git-ignored proto-deps/,
# which buf.yaml lists as a second module. Nothing third-party is committed.
GOOGLE_PROTO_FILES := google-proto-files@6.0.1
PROTO_DEPS := proto-deps
PROTO_DEPS_FILES := google/api/annotations google/api/http google/api/field_behavior google/api/resource google/api/httpbody \
	google/rpc/status google/rpc/error_details google/rpc/code
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# vuln.go.dev cannot be reached from here: govulncheck reads a pinned copy of the
# Go vulnerability database, taken from the module proxy. Move the pin forward to
# check against newer advisories.
VULNDB := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
BUF := go tool -modfile=tools.mod buf

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: proto-deps
proto-deps: ## write the googleapis and google.rpc .proto files the API needs into proto-deps/ (git-ignored)
	@want="$(GOOGLE_PROTO_FILES) $(PROTO_DEPS_FILES)"; \
	if [ "$$(cat $(PROTO_DEPS)/.source 2>/dev/null)" != "$$want" ]; then \
		echo "proto-deps: $(GOOGLE_PROTO_FILES) from npm"; \
		rm -rf .cache/npm $(PROTO_DEPS); mkdir -p .cache/npm; \
		(cd .cache/npm && npm pack --silent $(GOOGLE_PROTO_FILES) >/dev/null && tar xzf google-proto-files-*.tgz); \
		for f in $(PROTO_DEPS_FILES); do install -D -m 644 .cache/npm/package/$$f.proto $(PROTO_DEPS)/$$f.proto; done; \
		rm -rf .cache/npm; echo "$$want" > $(PROTO_DEPS)/.source; \
	fi

# axe-core checks the pages' accessibility in the browser test (server/axe_test.go):
# `make axe` takes its script from this npm package into the git-ignored
# .cache/axe-core/, where the test looks for it.
AXE_CORE := axe-core@4.11.0
AXE_DIR := .cache/axe-core

.PHONY: axe
axe: ## put axe-core's script (npm, pinned) where the browser test finds it; skipped without npm (CI requires it)
	@if [ "$$(cat $(AXE_DIR)/.source 2>/dev/null)" != "$(AXE_CORE)" ]; then \
		if ! command -v npm >/dev/null; then echo "axe: npm not found, the browser test skips its accessibility check"; exit 0; fi; \
		echo "axe: $(AXE_CORE) from npm"; \
		rm -rf $(AXE_DIR); mkdir -p $(AXE_DIR)/pack; \
		if ! (cd $(AXE_DIR)/pack && npm pack --silent $(AXE_CORE) >/dev/null && tar xzf axe-core-*.tgz); then \
			rm -rf $(AXE_DIR); echo "axe: could not fetch $(AXE_CORE), the browser test skips its accessibility check"; exit 0; fi; \
		install -m 644 $(AXE_DIR)/pack/package/axe.min.js $(AXE_DIR)/axe.min.js; \
		rm -rf $(AXE_DIR)/pack; echo "$(AXE_CORE)" > $(AXE_DIR)/.source; \
	fi

.PHONY: generate
generate: proto-deps ## regenerate gen/ from proto/ (buf and plugins run as Go tools)
	rm -rf gen/papers gen/gateway gen/openapi/*.json gen/papers.binpb
	$(BUF) generate --path proto/papers
	# The image of the API with every import, and the google.rpc error details.
	$(BUF) build --path proto/papers --path $(PROTO_DEPS)/google/rpc -o gen/papers.binpb
	go run ./cmd/openapi3 gen/openapi/papers.swagger.json gen/openapi/papers.openapi.json

.PHONY: lint
lint: proto-deps ## buf lint, go vet, golangci-lint, go mod tidy check (root and gen/ modules)
	$(BUF) lint --path proto/papers
	go vet ./...
	go run $(GOLANGCI_LINT) run ./...
	go mod tidy -diff
	cd gen && go vet ./... && go mod tidy -diff

# BASE is the commit `make breaking` compares the API with.
BASE ?= HEAD~1

.PHONY: breaking
breaking: ## buf breaking (FILE rules) of proto/ against BASE (default HEAD~1); see .ci/breaking
	.ci/breaking $(BASE)

.PHONY: consumers
consumers: ## generate Python, TypeScript and Go clients as the README shows and run them against a live paperd
	.ci/consumers

.PHONY: vulncheck
vulncheck: ## govulncheck on every package, against the pinned vulnerability database
	go mod download $(VULNDB)
	go run $(GOVULNCHECK) -db "file://$$(go env GOMODCACHE)/$(VULNDB)/data/osv" ./...

.PHONY: test
test: axe ## run every test (the README's test command)
	go test -race -count=1 -timeout 12m ./...

# TEST_NOW is the instant `make test-clock` starts the tests' clocks at (RFC 3339),
# TEST_ZONE the time zone of the subscribers they create (empty: UTC); see
# clock/clocktest. The default is one second before midnight UTC on a Sunday:
# a day, a week and a month end as the tests run. Across daylight-saving time:
# `make test-clock TEST_NOW=2026-11-01T01:59:59-04:00 TEST_ZONE=America/New_York`.
TEST_NOW ?= 2026-11-29T23:59:59Z
TEST_ZONE ?=

.PHONY: test-clock
test-clock: axe ## run the tests that depend on the date and hour with the clock at TEST_NOW (Sunday 23:59:59 UTC)
	PAPERS_TEST_NOW='$(TEST_NOW)' PAPERS_TEST_ZONE='$(TEST_ZONE)' go test -count=1 -timeout 6m ./clock/... ./service/ ./delivery/ ./readmodel/ ./server/

# FUZZTIME is how long `make fuzz` runs each fuzz target: `make fuzz FUZZTIME=1m`.
FUZZTIME ?= 10s

# Go 1.26's fuzzing coordinator can end a run that found nothing with "context
# deadline exceeded" (golang/go#75804, fixed in Go 1.27): that alone, with no
# failing input written to testdata/fuzz, is reported and not counted as a failure.
.PHONY: fuzz
fuzz: ## run every fuzz target (func Fuzz… in a fuzz_test.go) for FUZZTIME (10s) each, one at a time
	for file in $$(find . -name fuzz_test.go -not -path './.cache/*' | sort); do \
		pkg=$$(dirname "$$file"); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "== $$target ($$pkg)"; \
			corpus="$$pkg/testdata/fuzz/$$target"; \
			before=$$( (ls "$$corpus" 2>/dev/null || true) | wc -l); \
			if ! go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" 2>&1 | tee .fuzz.log; then \
				after=$$( (ls "$$corpus" 2>/dev/null || true) | wc -l); \
				if [ "$$after" = "$$before" ] && grep -q 'context deadline exceeded' .fuzz.log && ! grep -q 'Failing input written' .fuzz.log; then \
					echo "$$target: the run ended on Go's fuzzing deadline race (golang/go#75804), no failing input; not a failure"; \
				else \
					rm -f .fuzz.log; exit 1; \
				fi; \
			fi; \
		done; \
	done; \
	rm -f .fuzz.log

.PHONY: bench
bench: ## start paperd with 50,000 papers, load it with ghz, h2load and hey; prints a table and a JSON line
	command -v h2load >/dev/null || { apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq nghttp2-client; }
	go run ./cmd/paperbench

.PHONY: bench-import
bench-import: ## import a generated 1,000,000-line arXiv snapshot twice with paperctl; reports time and memory of both
	go run ./cmd/paperbench -snapshot-lines 1000000

# SCALE_PAPERS is the number of records `make bench-scale` generates and imports:
# by default about as many as arXiv's metadata snapshot holds.
SCALE_PAPERS ?= 2700000

.PHONY: bench-scale
bench-scale: ## import a generated arXiv-shaped snapshot of SCALE_PAPERS (2.7 M) records with paperctl; memory, restarts, disk and calls against issue 16's targets
	go run ./cmd/paperbench -scale $(SCALE_PAPERS)

.PHONY: run
run: ## run paperd on the embedded database under ./data
	go run ./cmd/paperd
