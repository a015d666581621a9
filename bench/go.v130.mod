// Second modfile of the bench module: github.com/raulk/go-watchdog v1.3.0
// from the module proxy, with exactly the dependencies it was released with
// (containerd/cgroups 2020, gosigar v0.12.0, runtime-spec v1.0.2), instead of
// this repository. Use it with the watchdog_v130 build tag:
//
//	cd bench
//	go build -tags watchdog_v130 -modfile=go.v130.mod -o /tmp/workload-v130 ./workload
//	go test -tags watchdog_v130 -modfile=go.v130.mod -run '^$' -bench . -benchmem ./sampling
//	go vet -tags watchdog_v130 -modfile=go.v130.mod ./workload ./sampling
//
// Only those two packages build with it (the runner imports this
// repository's internal packages, which v1.3.0 does not have), so update it
// with `go get -modfile=go.v130.mod ...`, not `go mod tidy`.
module github.com/raulk/go-watchdog/bench

go 1.25.0

require (
	github.com/benbjohnson/clock v1.3.0 // indirect
	github.com/containerd/cgroups v0.0.0-20201119153540-4cbc285b3327 // indirect
	github.com/coreos/go-systemd/v22 v22.1.0 // indirect
	github.com/docker/go-units v0.4.0 // indirect
	github.com/elastic/gosigar v0.12.0 // indirect
	github.com/godbus/dbus/v5 v5.0.3 // indirect
	github.com/gogo/protobuf v1.3.1 // indirect
	github.com/opencontainers/runtime-spec v1.0.2 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/raulk/go-watchdog v1.3.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
