//go:build !linux && (windows || cgo)

package source

import (
	"fmt"

	sigar "github.com/elastic/gosigar"
)

// sigarSystem is the system Source off Linux, backed by gosigar.
type sigarSystem struct{}

func newSystem() (Source, error) {
	var m sigar.Mem
	if err := m.Get(); err != nil {
		return nil, fmt.Errorf("source: system memory via gosigar: %w", err)
	}
	return sigarSystem{}, nil
}

func (sigarSystem) String() string { return "system" }

func (sigarSystem) Limit() (uint64, error) {
	var m sigar.Mem
	if err := m.Get(); err != nil {
		return 0, fmt.Errorf("source: system memory via gosigar: %w", err)
	}
	return m.Total, nil
}

func (sigarSystem) Usage() (uint64, error) {
	var m sigar.Mem
	if err := m.Get(); err != nil {
		return 0, fmt.Errorf("source: system memory via gosigar: %w", err)
	}
	return m.ActualUsed, nil
}

func (sigarSystem) Reclaimable() (uint64, error) { return 0, nil }

func (sigarSystem) Close() error { return nil }
