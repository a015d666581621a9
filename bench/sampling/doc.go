// Package sampling holds the sampling-cost benchmarks: how long one memory
// usage sample takes, and what it allocates, for every usage source of this
// library beside the readers go-watchdog v1.3.0 used (containerd/cgroups'
// Stat and gosigar's Mem.Get). Run them with
//
//	cd bench && go test -run '^$' -bench . -benchmem ./sampling                                              # this library
//	cd bench && go test -tags watchdog_v130 -modfile=go.v130.mod -run '^$' -bench . -benchmem ./sampling   # v1.3.0
//
// The runner runs them and puts the table in docs/benchmarks.md.
package sampling
