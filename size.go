package watchdog

import (
	"math"
	"strconv"
)

// fmtSize formats a byte count for log lines: a rounded binary size for
// people and the exact count for tools, e.g. "256.0 MiB (268435456 bytes)".
// Counts under 1 KiB are "<n> bytes". Soft-limit values at or above
// math.MaxInt64 (the runtime's "no limit") are "no limit".
func fmtSize(n uint64) string {
	if n >= math.MaxInt64 {
		return "no limit"
	}
	exact := strconv.FormatUint(n, 10) + " bytes"
	if n < 1<<10 {
		return exact
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i] + " (" + exact + ")"
}

// fmtSoftLimit is fmtSize for a soft memory limit as the runtime reports it.
func fmtSoftLimit(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmtSize(uint64(n))
}
