# Burgut's build, run and test entry points. `make help` lists them.
#
# Everything a target needs (staticcheck, InfluxDB, Mosquitto, Chromium, npm
# packages) is installed on first use and cached under $(TOOLS); every
# server the tests use is started on a free 127.0.0.1 port and stopped after.

SHELL        := /bin/bash
GO           ?= go
TOOLS        ?= $(HOME)/.cache/burgut/tools
STATICCHECK  := $(TOOLS)/bin/staticcheck
TELEGRAF     := $(TOOLS)/bin/telegraf
BIN          := bin/burgut
VEHICLES     ?= 10
HTTP         ?= 127.0.0.1:8080
TEST_TIMEOUT ?= 20m
BENCHTIME    ?= 1x
BENCH_VEHICLES ?= 400,1000,2000,3000
BENCH_SECONDS  ?= 10
export BURGUT_TOOLS := $(TOOLS)

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

.PHONY: build
build: web ## build bin/burgut (web map assets embedded)
	$(GO) build -o $(BIN) ./cmd/burgut

.PHONY: run
run: build ## the demo: ground station + simulated fleet + web map on http://127.0.0.1:8080 (VEHICLES=, HTTP= to change)
	./$(BIN) run --vehicles $(VEHICLES) --http $(HTTP)

.PHONY: web
web: ## build the web map's front-end (npm) into web/dist for go:embed
	@if [ -f web/Makefile ]; then $(MAKE) -C web; fi

.PHONY: test
test: lint ## vet, staticcheck, the web console's unit tests, then go test -race over everything with real services
	@if [ -f web/Makefile ]; then $(MAKE) -C web test; fi
	@scripts/services.sh start
	@set -a; source .testenv/env; set +a; \
	BURGUT_TEST_REQUIRE_SERVICES=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./... ; rc=$$?; \
	scripts/services.sh stop; exit $$rc

.PHONY: bench
bench: build ## benchmarks and soak/scale runs (results go in BENCHMARKS.md)
	@scripts/services.sh start
	@set -a; source .testenv/env; set +a; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -timeout 60m ./... ; rc=$$?; \
	scripts/services.sh stop; exit $$rc

.PHONY: bench-station
bench-station: $(if $(filter 0,$(BURGUT_BENCH_TELEGRAF)),,$(TELEGRAF)) ## headline: burgut serve vs Telegraf under burgut loadgen (BENCH_VEHICLES=400,1000,2000,3000 BENCH_SECONDS=10; BURGUT_BENCH_STORE=sqlite for the embedded store, BURGUT_BENCH_TELEGRAF=0 without Telegraf)
	@mkdir -p bin
	@scripts/services.sh start
	@set -a; source .testenv/env; set +a; \
	BURGUT_BENCH_VEHICLES=$(BENCH_VEHICLES) BURGUT_BENCH_SECONDS=$(BENCH_SECONDS) BURGUT_BENCH_OUT=$(CURDIR)/bin/bench-station.md \
	$(GO) test -run '^$$' -bench Station -benchtime 1x -timeout 60m ./cmd/burgut/ ; rc=$$?; \
	scripts/services.sh stop; exit $$rc

.PHONY: lint
lint: web $(STATICCHECK) ## gofmt, go vet, staticcheck, and a cross-build and cross-vet (tests included) for Windows and macOS
	@out=$$(gofmt -l $$(git ls-files '*.go' ; git ls-files -o --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@# Linux-only code (recvmmsg, SO_MEMINFO, SIOCINQ, epoll, flock, ptys)
	@# sits behind build tags with fallbacks: keep the rest building
	@# elsewhere, and its tests compiling (vet type-checks the test files
	@# too); nothing runs. Slow once, then cached.
	GOOS=windows $(GO) build ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...

# Telegraf with only the plugins the station bench compares against
# (about 3 minutes of compiling, once; a present binary is kept).
$(TELEGRAF):
	cd /tmp && GOFLAGS= GOBIN=$(TOOLS)/bin $(GO) install \
		-tags custom,inputs.mavlink,inputs.internal,outputs.influxdb_v2,outputs.influxdb \
		github.com/influxdata/telegraf/cmd/telegraf@v1.37.2

$(STATICCHECK):
	GOBIN=$(TOOLS)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: services-start services-stop
services-start: ## start InfluxDB, Mosquitto (and find Chromium) for manual testing
	scripts/services.sh start
services-stop: ## stop them
	scripts/services.sh stop

.PHONY: clean
clean: ## remove build output and test service data
	rm -rf bin .testenv
