//go:build !linux

package watchdog

import (
	"fmt"
	"runtime"
	"time"
)

// CgroupDriven is only supported on Linux. Elsewhere it returns an error
// wrapping ErrNotSupported and starts nothing.
func CgroupDriven(frequency time.Duration, policyCtor PolicyCtor) (err error, stopFn func()) {
	return cgroupDriven(currentConfig(), frequency, policyCtor)
}

func cgroupDriven(config, time.Duration, PolicyCtor) (error, func()) {
	return fmt.Errorf("watchdog: cgroups exist only on Linux, not %s: %w", runtime.GOOS, ErrNotSupported), nil
}
