//go:build !linux && !windows && !cgo

package source

import (
	"errors"
	"fmt"
	"runtime"
)

// newSystem fails here: gosigar reads system memory through cgo on this
// system, and the program was built without it.
func newSystem() (Source, error) {
	return nil, fmt.Errorf("source: system memory on %s needs cgo (gosigar): %w", runtime.GOOS, errors.ErrUnsupported)
}
