package watchdog

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/raulk/go-watchdog/internal/cgroups"
)

// Options configure Start. The zero value is ready to use; OptionsFromEnv
// fills one from GOWATCHDOG_* environment variables.
type Options struct {
	// HeapLimit, in bytes, selects HeapDriven when not zero.
	HeapLimit uint64
	// HeapLimitEnv names an environment variable read when HeapLimit is
	// zero, such as "MYAPP_HEAP_MAX". Its value is a size for ParseSize,
	// e.g. "1536MiB" or "2Gi". Unset or empty means no heap limit; a value
	// that does not parse makes Start fail and start nothing.
	HeapLimitEnv string
	// MinGOGC is HeapDriven's lowest GOGC. Zero means 25; negative is an
	// error.
	MinGOGC int
	// Frequency is the polling period of CgroupDriven and SystemDriven.
	// Zero means one second; negative is an error.
	Frequency time.Duration
	// Policy builds the policy. Nil means DefaultPolicy.
	Policy PolicyCtor
	// SystemLimit is SystemDriven's limit in bytes; zero means all memory.
	SystemLimit uint64
	// DisableSoftLimit, when true, makes the watchdog Start starts leave
	// the soft memory limit alone, as HeadroomSoftLimit false does; it does
	// not change HeadroomSoftLimit. False follows HeadroomSoftLimit.
	DisableSoftLimit bool
	// DisableKernelEvents, when true, makes the watchdog Start starts poll
	// only, as KernelEvents false does, without changing KernelEvents.
	DisableKernelEvents bool
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
	// Skipped has one short reason per driver Start passed over before
	// Driver, such as "cgroup: no limit", or says why none was tried.
	Skipped []string
	// Disabled reports that the GOWATCHDOG environment variable turned the
	// watchdog off, so Start started nothing, by the operator's choice.
	Disabled bool
}

// String summarises the result in one short line, e.g. "system watchdog
// started with limit 15.5 GiB (16624349184 bytes); heap: no heap limit configured;
// cgroup: no limit".
func (r Result) String() string {
	why := ""
	if len(r.Skipped) > 0 {
		why = "; " + strings.Join(r.Skipped, "; ")
	}
	switch {
	case r.Disabled:
		return "watchdog disabled by " + envSwitch + "=" + os.Getenv(envSwitch)
	case r.Driver == "":
		return "no watchdog started" + why
	}
	return fmt.Sprintf("%s watchdog started with limit %s%s", r.Driver, fmtSize(r.Limit), why)
}

// startMu serialises Start, which may set package settings.
var startMu sync.Mutex

// Start applies the recommended precedence in one call:
//
//  1. a heap limit (Options.HeapLimit, else the variable named by
//     Options.HeapLimitEnv) starts HeapDriven;
//  2. else CgroupDriven, if the process has a limited memory cgroup;
//  3. else SystemDriven;
//  4. else it logs a warning and returns an error joining every reason.
//
// A driver that fails is reported in Result.Skipped and the next one is
// tried. Start starts nothing and returns an error (also logged) when:
//
//   - the variable named by HeapLimitEnv is set but is not a size: the
//     operator asked for a heap limit, and no other driver stands in for it;
//     the error names the variable, its value and the accepted units;
//   - MinGOGC or Frequency is negative;
//   - GOWATCHDOG holds a value that is neither on nor off;
//   - a watchdog is already running: the error wraps ErrAlreadyStarted and
//     the running watchdog keeps running.
//
// GOWATCHDOG=off (or false, 0, no, disabled; in any letter case) turns
// Start off: it starts nothing, logs one info line, sets Result.Disabled
// and returns a nil error. On, true, 1, yes, enabled, empty or unset start
// as usual.
//
// stopFn is never nil; when nothing started it does nothing.
func Start(opts Options) (res Result, stopFn func(), err error) {
	stopFn = func() {}
	fail := func(err error) (Result, func(), error) {
		logNow(levelError, kindConfig, "no watchdog started: %v", err)
		return res, stopFn, err
	}
	if on, err := switchFromEnv(); err != nil {
		return fail(err)
	} else if !on {
		res.Disabled = true
		logNow(levelInfo, kindConfig, "%s", res)
		return res, stopFn, nil
	}
	if err := opts.fill(); err != nil {
		return fail(err)
	}
	heapLimit, err := opts.heapLimit()
	if err != nil {
		return fail(err)
	}

	startMu.Lock()
	defer startMu.Unlock()
	if s := Snapshot(); s.Running {
		return alreadyRunning(res, s)
	}
	cfg := currentConfig()
	cfg.softLimit = cfg.softLimit && !opts.DisableSoftLimit
	cfg.events = cfg.events && !opts.DisableKernelEvents

	var errs []error
	try := func(driver string, startFn func() (error, func())) (started bool, err error) {
		err, stop := startFn()
		if errors.Is(err, ErrAlreadyStarted) {
			return false, err // started by someone else since the check above
		}
		if err != nil {
			res.Skipped = append(res.Skipped, driver+": "+shortReason(err))
			errs = append(errs, fmt.Errorf("%s: %w", driver, err))
			logNow(levelDebug, kindConfig, "%s watchdog not started: %v", driver, err)
			return false, nil
		}
		res.Driver, res.Limit, stopFn = driver, Snapshot().Limit, stop
		return true, nil
	}
	drivers := []struct {
		name  string
		start func() (error, func())
	}{
		{"heap", func() (error, func()) { return heapDriven(cfg, heapLimit, opts.MinGOGC, opts.Policy) }},
		{"cgroup", func() (error, func()) { return cgroupDriven(cfg, opts.Frequency, opts.Policy) }},
		{"system", func() (error, func()) { return systemDriven(cfg, opts.SystemLimit, opts.Frequency, opts.Policy) }},
	}
	if heapLimit == 0 {
		res.Skipped = append(res.Skipped, "heap: no heap limit configured")
		drivers = drivers[1:]
	}
	for _, d := range drivers {
		started, err := try(d.name, d.start)
		if err != nil {
			return alreadyRunning(res, Snapshot())
		}
		if started {
			return res, stopFn, nil
		}
	}
	err = fmt.Errorf("watchdog: no driver started: %w", errors.Join(errs...))
	logNow(levelWarn, kindConfig, "no memory watchdog is running, the process is on its own: %s", res)
	return res, stopFn, err
}

// fill applies the defaults and checks the options.
func (o *Options) fill() error {
	if o.MinGOGC < 0 {
		return fmt.Errorf("watchdog: Options.MinGOGC %d is negative; use 0 for the default (25) or a positive GOGC", o.MinGOGC)
	}
	if o.Frequency < 0 {
		return fmt.Errorf("watchdog: Options.Frequency %v is negative; use 0 for the default (1s) or a positive period", o.Frequency)
	}
	if o.MinGOGC == 0 {
		o.MinGOGC = defaultMinGOGC
	}
	if o.Frequency == 0 {
		o.Frequency = time.Second
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy
	}
	return nil
}

// heapLimit returns the configured heap limit, 0 if none.
func (o *Options) heapLimit() (uint64, error) {
	if o.HeapLimit != 0 || o.HeapLimitEnv == "" {
		return o.HeapLimit, nil
	}
	v := os.Getenv(o.HeapLimitEnv)
	if v == "" {
		return 0, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("watchdog: heap limit %s=%q does not parse (unset it for no heap limit): %w", o.HeapLimitEnv, v, err)
	}
	return n, nil
}

// alreadyRunning reports a Start that found a watchdog running.
func alreadyRunning(res Result, s Stats) (Result, func(), error) {
	running := fmt.Sprintf("a %s watchdog with limit %s is already running", s.Driver, fmtSize(s.Limit))
	res.Skipped = []string{running}
	logNow(levelWarn, kindConfig, "Start started nothing: %s and keeps running", running)
	return res, func() {}, fmt.Errorf("watchdog: Start: %w: %s; stop it first", ErrAlreadyStarted, running)
}

// shortReason says in a few words why a driver did not start; the whole
// error is in Start's error and the debug log.
func shortReason(err error) string {
	switch {
	case errors.Is(err, ErrNoCgroupLimit):
		return "no limit"
	case errors.Is(err, cgroups.ErrNoMemoryCgroup):
		return "no memory cgroup"
	case errors.Is(err, ErrNotSupported):
		return "not supported on " + runtime.GOOS
	}
	const maxLen = 100
	msg := strings.TrimPrefix(err.Error(), "watchdog: ")
	if len(msg) > maxLen {
		msg = strings.ToValidUTF8(msg[:maxLen], "") + "..."
	}
	return msg
}
