# Everything a developer or CI runs. `make test` is the full check.
GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.7.0
CROSS_GOOS    := linux darwin windows freebsd
# The lowest Go the module supports, as go.mod declares it: mingo builds and
# tests with exactly that toolchain (fetched through the module proxy).
MIN_GO        := $(shell awk '/^go /{print $$2}' go.mod)
# The newest Go release the module is tested with (newgo), also fetched
# through the module proxy.
NEW_GO        := 1.27.3

.PHONY: test unit vet fmtcheck cross mingo newgo apicheck depcheck dropin prom otel bench-vet test-vm lint demo bench docker-test

## test: vet, gofmt, cross-builds, tests with the oldest supported and the newest Go, race tests (real cgroups when root), apicheck, dependency budget, drop-in build, prometheus and OpenTelemetry modules, bench vet, VM tests
test: vet fmtcheck cross mingo newgo unit apicheck depcheck dropin prom otel bench-vet test-vm

vet:
	$(GO) vet ./...

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

# Builds every package and vets (so compiles) the tests for each GOOS.
cross:
	@for os in $(CROSS_GOOS); do echo "GOOS=$$os go build ./... && go vet ./..."; \
		GOOS=$$os $(GO) build ./... && GOOS=$$os $(GO) vet ./... || exit 1; done

## mingo: vet and test with the oldest supported toolchain (go.mod's go line)
mingo:
	GOTOOLCHAIN=go$(MIN_GO) $(GO) version
	GOTOOLCHAIN=go$(MIN_GO) $(GO) vet ./...
	GOTOOLCHAIN=go$(MIN_GO) $(GO) test -count=1 ./...

## newgo: vet and test with the newest Go release
newgo:
	GOTOOLCHAIN=go$(NEW_GO) $(GO) version
	GOTOOLCHAIN=go$(NEW_GO) $(GO) vet ./...
	GOTOOLCHAIN=go$(NEW_GO) $(GO) test -count=1 ./...

# The race pass, then a plain verbose pass: the real-cgroup survival test
# runs only without -race (the race detector's shadow memory is charged to the
# cgroup), and the verbose pass shows in the log which tests ran and which
# skipped, and why.
unit:
	$(GO) test -race -count=1 ./...
	./scripts/test-verbose.sh ./...

apicheck:
	./scripts/apicheck.sh

## depcheck: hello-world binary overhead <= 1.2 MB and no heavy or test-only module in the library's imports
depcheck:
	./scripts/depcheck.sh

## dropin: a lotus-like caller (containerd/cgroups v1.0.4 beside the watchdog) tidies and builds as with v1.3.0; cgroupcheck/ compares internal/cgroups with containerd/cgroups/v3 on a real cgroup (root, v1)
dropin:
	./scripts/dropin.sh
	cd cgroupcheck && $(GO) vet ./... && $(GO) test -count=1 -v ./...

## prom: the Prometheus collector's own module (prometheus/): vet and race tests
prom:
	cd prometheus && $(GO) vet ./... && $(GO) test -race -count=1 ./...

## otel: the OpenTelemetry instruments' own module (otel/): vet and race tests
otel:
	cd otel && $(GO) vet ./... && $(GO) test -race -count=1 ./...

bench-vet:
	cd bench && $(GO) vet ./...
	cd bench && $(GO) vet -tags watchdog_v130 -modfile=go.v130.mod ./workload ./sampling

## test-vm: cgroup v1/v2 and PID-1 container scenarios on a real kernel under qemu
test-vm:
	cd vmtest && ./setup.sh && $(GO) vet -tags vmtest ./... && $(GO) test -tags vmtest -count=1 -v -timeout 10m .

lint:
	$(GO) run $(STATICCHECK) ./...
	cd prometheus && $(GO) run $(STATICCHECK) ./...
	cd otel && $(GO) run $(STATICCHECK) ./...
	cd cgroupcheck && $(GO) run $(STATICCHECK) ./...

## demo: the recommended setup under a bursty workload; works anywhere
demo:
	$(GO) run ./examples/demo

## bench: sampling cost and survival scenarios against the peers (root, cgroup v1)
bench:
	cd bench && $(GO) run ./runner -out ../docs

## docker-test: the cgroup tests as PID 1 under a 32 MiB container (needs a Docker engine)
docker-test:
	docker build -t go-watchdog-test .
	docker run --rm --memory=32MiB --memory-swap=32MiB go-watchdog-test
