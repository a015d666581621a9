// Package cgroupcheck holds no code, only a test: on a cgroup v1 host, as
// root, it reads a memory cgroup it creates with both the library's own
// reader (internal/cgroups) and containerd/cgroups/v3, and compares them.
//
// It is a module of its own so that containerd/cgroups/v3, and through it
// opencontainers/runtime-spec v1.3.0, never enter the module graph of a
// program that requires github.com/raulk/go-watchdog. Run it with
//
//	cd cgroupcheck && go test -v ./...
//
// (make dropin does).
package cgroupcheck
