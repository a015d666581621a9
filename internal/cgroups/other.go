//go:build !linux

package cgroups

import (
	"errors"
	"fmt"

	"github.com/raulk/go-watchdog/internal/source"
)

var (
	_ source.Source   = (*Reader)(nil)
	_ source.Notifier = (*Reader)(nil)
)

// errUnsupported is what every entry point returns off Linux.
var errUnsupported = fmt.Errorf("cgroups: cgroups exist only on Linux: %w", errors.ErrUnsupported)

// Reader reads one memory cgroup. Off Linux none can be opened.
type Reader struct{}

// Open returns an error wrapping errors.ErrUnsupported off Linux.
func Open(Config) (*Reader, error) { return nil, errUnsupported }

// OpenDir returns an error wrapping errors.ErrUnsupported off Linux.
func OpenDir(int, string) (*Reader, error) { return nil, errUnsupported }

// Version returns 0 off Linux.
func (*Reader) Version() int { return 0 }

// Path returns "" off Linux.
func (*Reader) Path() string { return "" }

// String returns "cgroup (unsupported)".
func (*Reader) String() string { return "cgroup (unsupported)" }

// Limit returns an error wrapping errors.ErrUnsupported off Linux.
func (*Reader) Limit() (uint64, error) { return 0, errUnsupported }

// Usage returns an error wrapping errors.ErrUnsupported off Linux.
func (*Reader) Usage() (uint64, error) { return 0, errUnsupported }

// Reclaimable returns an error wrapping errors.ErrUnsupported off Linux.
func (*Reader) Reclaimable() (uint64, error) { return 0, errUnsupported }

// Close does nothing and returns nil.
func (*Reader) Close() error { return nil }

// Arm does nothing and returns nil.
func (*Reader) Arm(uint64) error { return nil }

// Events returns a channel that never receives.
func (*Reader) Events() <-chan struct{} { return nil }

// EventsInfo says that there are no events off Linux.
func (*Reader) EventsInfo() string { return "no cgroup events off Linux" }
