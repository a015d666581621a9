package watchdog

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// HeapLimit, in bytes, selects HeapDriven when not zero.
	HeapLimit uint64
	// HeapLimitEnv names an environment variable read when HeapLimit is
	// zero. Its value is a size in bytes with an optional unit: KiB, MiB,
	// GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), e.g.
	// "1536MiB". Unset or empty means no heap limit.
	HeapLimitEnv string
	// MinGOGC is HeapDriven's lowest GOGC. Zero means 25.
	MinGOGC int
	// Frequency is the polling period of CgroupDriven and SystemDriven.
	// Zero means one second.
	Frequency time.Duration
	// Policy builds the policy. Nil means DefaultPolicy.
	Policy PolicyCtor
	// SystemLimit is SystemDriven's limit in bytes; zero means all memory.
	SystemLimit uint64
}

// DefaultPolicy is the policy Start uses when Options.Policy is nil:
// watermarks at 50, 60, 70, 85, 90, 92.5 and 95 percent of the limit.
var DefaultPolicy = NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95)

// Result reports what Start did.
type Result struct {
	// Driver is "heap", "cgroup" or "system", or empty when none started.
	Driver string
	// Limit is the limit of the started driver, in bytes.
	Limit uint64
	// Skipped has one line per driver Start tried or passed over before
	// Driver, saying why.
	Skipped []string
}

// String summarises the result in one line.
func (r Result) String() string {
	why := ""
	if len(r.Skipped) > 0 {
		why = " (" + strings.Join(r.Skipped, "; ") + ")"
	}
	if r.Driver == "" {
		return "no watchdog started" + why
	}
	return fmt.Sprintf("%s watchdog started with limit %d bytes%s", r.Driver, r.Limit, why)
}

// Start applies the recommended precedence in one call:
//
//  1. a heap limit (Options.HeapLimit, else the variable named by
//     Options.HeapLimitEnv) starts HeapDriven;
//  2. else CgroupDriven, if the process has a limited memory cgroup;
//  3. else SystemDriven;
//  4. else it logs a warning and returns an error joining every reason.
//
// A driver that fails is reported in Result.Skipped and the next one is
// tried; a heap limit that does not parse is skipped the same way, with a
// warning. stopFn is never nil; when nothing started it does nothing.
func Start(opts Options) (res Result, stopFn func(), err error) {
	if opts.MinGOGC == 0 {
		opts.MinGOGC = 25
	}
	if opts.Frequency == 0 {
		opts.Frequency = time.Second
	}
	if opts.Policy == nil {
		opts.Policy = DefaultPolicy
	}
	var errs []error
	skip := func(driver string, err error) {
		res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", driver, err))
		errs = append(errs, err)
	}

	heapLimit := opts.HeapLimit
	if heapLimit == 0 && opts.HeapLimitEnv != "" {
		if v := os.Getenv(opts.HeapLimitEnv); v != "" {
			n, err := ParseSize(v)
			if err != nil {
				err = fmt.Errorf("%s=%q: %w", opts.HeapLimitEnv, v, err)
				Logger.Warnf("ignoring the heap limit: %v", err)
				skip("heap", err)
			}
			heapLimit = n
		}
	}
	try := func(driver string, limit func() uint64, startFn func() (error, func())) bool {
		err, stop := startFn()
		if err != nil {
			skip(driver, err)
			return false
		}
		res.Driver, stopFn = driver, stop
		res.Limit = limit()
		return true
	}
	current := func() uint64 { return Snapshot().Limit }
	if heapLimit > 0 {
		if try("heap", current, func() (error, func()) { return HeapDriven(heapLimit, opts.MinGOGC, opts.Policy) }) {
			return res, stopFn, nil
		}
	} else if len(res.Skipped) == 0 {
		res.Skipped = append(res.Skipped, "heap: no heap limit configured")
	}
	if try("cgroup", current, func() (error, func()) { return CgroupDriven(opts.Frequency, opts.Policy) }) {
		return res, stopFn, nil
	}
	if try("system", current, func() (error, func()) { return SystemDriven(opts.SystemLimit, opts.Frequency, opts.Policy) }) {
		return res, stopFn, nil
	}
	err = fmt.Errorf("watchdog: no driver started: %w", errors.Join(errs...))
	Logger.Warnf("no memory watchdog is running, the process is on its own: %v", err)
	return res, func() {}, err
}

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize parses a byte size such as "512MiB", "2GB", "1.5GiB" or
// "1073741824". Units are case-sensitive: KiB, MiB, GiB, TiB (1024-based),
// KB, MB, GB, TB (1000-based) or B. The result must be positive and fit in
// a uint64.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	outside := fmt.Errorf("size %q is outside 1 byte .. 2^64-1 bytes", s)
	// Whole numbers are parsed exactly; only fractions go through float64.
	if n, err := strconv.ParseUint(t, 10, 64); err == nil {
		if n == 0 || n > math.MaxUint64/mult {
			return 0, outside
		}
		return n * mult, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, outside
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB, B)", s)
	}
	v := f * float64(mult)
	if v < 1 || v >= math.MaxUint64 {
		return 0, outside
	}
	return uint64(v), nil
}
