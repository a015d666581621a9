// Package watchdog keeps a Go program clear of its memory limit by forcing
// garbage collections, and by steering the Go runtime's own pacer, as usage
// approaches a limit.
//
// It is an independent implementation of the API of
// github.com/raulk/go-watchdog v1.3.0, and runs as a singleton: one watchdog
// per process, started by one of
//
//   - HeapDriven: a limit on the Go heap, enforced by retuning GOGC after
//     every GC;
//   - CgroupDriven: the memory limit of the process's cgroup (v1 or v2),
//     polled and, where the kernel offers it, watched through events;
//   - SystemDriven: a limit on the memory used by the whole system.
//
// Start picks one by the recommended precedence. A Policy decides at which
// usage the next GC must run; NewWatermarkPolicy and NewAdaptivePolicy ship
// with the package and PolicyFunc turns a function into one.
package watchdog

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/raulk/go-watchdog/internal/source"
)

// ErrNotSupported is returned (wrapped) when a driver cannot run on this
// operating system, such as CgroupDriven outside Linux.
var ErrNotSupported = errors.New("watchdog run mode not supported")

// ErrAlreadyStarted is returned by a driver when a watchdog is already running
// in this process. Stop it first; then a new one may start.
var ErrAlreadyStarted = errors.New("singleton memory watchdog was already started")

// settingsMu guards the package settings where the package itself writes
// or reads them concurrently with a running watchdog (SetLogger, Start).
var settingsMu sync.RWMutex

// The watchdog is a process-wide singleton, so its settings are package
// variables, as in v1.3.0. Set them before starting a watchdog; a running
// watchdog reads Logger, ForcedGCFunc and NotifyGC each time it uses them
// (change Logger with SetLogger then) and the other settings once, at
// start.
var (
	// Logger receives the watchdog's log lines. The default writes to the
	// standard log package's output as it was at program start, with the
	// prefix "[watchdog] " and the level, and drops debug lines; once the
	// program sets a default slog handler, it logs through slog.Default().
	// Any value with Debugf, Infof, Warnf and Errorf methods taking
	// (template string, args ...interface{}) fits, such as zap's
	// SugaredLogger; NewSlogLogger adapts a *slog.Logger. nil means the
	// default.
	Logger logger = defaultLogger

	// Clock is the time source of the watchdog's polling loop. Tests may set
	// it to a clock.NewMock() before starting a watchdog.
	Clock clock.Clock = clock.New()

	// ForcedGCFunc is called when the watchdog forces a GC. The default is
	// runtime.GC; debug.FreeOSMemory also returns freed memory to the
	// operating system at once, at a higher cost.
	ForcedGCFunc = runtime.GC

	// NotifyGC, when not nil, is called after every GC the watchdog observes.
	//
	// Deprecated: use RegisterPostGCNotifee.
	NotifyGC func() = func() {}

	// HeapProfileThreshold is the fraction of the limit, in (0, 1), at or
	// above which the watchdog writes a heap profile to HeapProfileDir: one
	// per episode, an episode ending when usage drops below the fraction.
	// Zero (the default) disables capture.
	HeapProfileThreshold float64

	// HeapProfileMaxCaptures caps the number of heap profiles one watchdog
	// writes. The default is 10.
	HeapProfileMaxCaptures = uint(10)

	// HeapProfileDir is the directory heap profiles are written to, as
	// <HeapProfileDir>/<time.Now().Format(time.RFC3339Nano)>.heap: real time
	// (not Clock) in the local zone, with its offset, and -<n> before .heap
	// if that name is taken. A profile is what runtime/pprof's
	// WriteHeapProfile writes: gzipped protobuf. The directory is created if
	// missing. Empty (the default) disables capture. If it cannot be created
	// or written, the watchdog logs a warning, stops capturing and keeps
	// running. The first critical pressure level of a run also writes a
	// heap profile and a goroutine dump there (see Pressure).
	HeapProfileDir string

	// HeadroomSoftLimit, when true (the default), makes CgroupDriven and
	// SystemDriven manage the Go runtime's soft memory limit
	// (debug.SetMemoryLimit): they keep it at the limit less a reserve (5%
	// of the limit, at least min(limit/8, 16 MiB)), less the memory the
	// process uses outside the Go runtime (cgo, mmap, other processes in the
	// cgroup), refreshed every 100 ms within a quarter of the limit. The
	// pacer then collects before the Go heap eats that room, with no sample
	// needed; the policy's thresholds still drive forced GCs. Where GC
	// cannot make room (a live heap that, with the runtime's overhead, is
	// over the soft limit by more than limit/32; for the system, one with
	// less than a quarter of itself to grow into), the watchdog leaves the
	// soft limit to the program instead (see Stats.BeyondGC). The watchdog never raises the soft limit above the
	// program's own (GOMEMLIMIT or SetMemoryLimit, before or during the
	// run) and restores the program's when it stops. Set it to false before
	// starting to opt out.
	HeadroomSoftLimit = true

	// KernelEvents, when true (the default), lets CgroupDriven wake on the
	// kernel's memory events instead of waiting for its next poll: a cgroup
	// v1 usage threshold armed at the policy's threshold, and cgroup v2
	// memory.events changes (high, max, oom). Polling stays the fallback.
	// Set it to false before starting to poll only.
	KernelEvents = true
)

// HeapDriven starts a watchdog that keeps the Go heap under limit bytes. After
// every GC it asks the policy for the heap size at which the next GC must run
// and sets GOGC so the runtime's pacer schedules it there: never above the
// program's GOGC and never below minGOGC, which avoids back-to-back
// collections near the limit. As in v1.3.0 it changes nothing until the
// first GC after it starts. While the policy answers PolicyTempDisabled, the
// pacer aims at the limit itself, so the heap stays near its limit even when
// the program runs with GOGC=off. A GOGC the program sets while the watchdog
// runs (off included) becomes the new ceiling within a second; stopping
// restores the program's latest GOGC.
//
// minGOGC 0 is no floor, as in v1.3.0: near the limit GOGC may reach 0,
// which collects back to back; the watchdog warns, and 25 (Start's default)
// bounds the GC's cost. A zero limit, a negative minGOGC, a nil policyCtor,
// and a policyCtor error or panic are returned as errors, and nothing
// starts.
func HeapDriven(limit uint64, minGOGC int, policyCtor PolicyCtor) (err error, stopFn func()) {
	return heapDriven(currentConfig(), limit, minGOGC, policyCtor)
}

func heapDriven(cfg config, limit uint64, minGOGC int, policyCtor PolicyCtor) (error, func()) {
	if limit == 0 {
		return fmt.Errorf("watchdog: heap limit is 0 bytes; it must be positive"), nil
	}
	switch {
	case minGOGC < 0:
		return fmt.Errorf("watchdog: minGOGC %d is negative; it must be 0 or more (a negative GOGC turns the GC off; %d bounds the GC's cost)", minGOGC, defaultMinGOGC), nil
	case minGOGC == 0:
		logNow(levelWarn, kindConfig, "minGOGC 0 is no floor: near the limit GOGC may reach 0, which collects back to back, as in v1.3.0; %d bounds the GC's cost", defaultMinGOGC)
	}
	policy, err := buildPolicy(policyCtor, limit)
	if err != nil {
		return err, nil
	}
	r := newRun("heap", UtilizationHeap, nil, policyCtor, policy, limit, heapCheck, cfg)
	r.minGOGC = minGOGC
	return r.start()
}

// defaultMinGOGC is Start's GOGC floor for the heap driver when
// Options.MinGOGC is 0.
const defaultMinGOGC = 25

// SystemDriven starts a watchdog that keeps the memory used by the whole
// system under limit bytes; limit 0 means the total memory of the system.
// "Used" excludes buffers and page cache the kernel can reclaim. It samples
// usage every frequency (more often near the threshold or the limit) and
// forces a GC at the sample that sees usage at or above the policy's
// threshold, which the policy sets after every GC (see CgroupDriven).
//
// frequency <= 0, a nil policyCtor or a policyCtor error is returned as an
// error and nothing starts.
func SystemDriven(limit uint64, frequency time.Duration, policyCtor PolicyCtor) (err error, stopFn func()) {
	return systemDriven(currentConfig(), limit, frequency, policyCtor)
}

func systemDriven(cfg config, limit uint64, frequency time.Duration, policyCtor PolicyCtor) (error, func()) {
	frequency, err := checkFrequency(frequency)
	if err != nil {
		return err, nil
	}
	if policyCtor == nil {
		return errNilPolicy, nil
	}
	src, err := source.NewSystem()
	if err != nil {
		return fmt.Errorf("watchdog: cannot read system memory: %w", err), nil
	}
	if limit == 0 {
		if limit, err = src.Limit(); err != nil {
			src.Close()
			return fmt.Errorf("watchdog: cannot read total system memory: %w", err), nil
		}
	}
	return startPolled(cfg, "system", UtilizationSystem, src, policyCtor, limit, frequency, false)
}

var errNilPolicy = errors.New("watchdog: policy constructor is nil")

// checkFrequency rejects the frequencies that made v1.3.0 spin and raises
// the ones under minInterval, which it took literally, to minInterval.
func checkFrequency(frequency time.Duration) (time.Duration, error) {
	if frequency <= 0 {
		return 0, fmt.Errorf("watchdog: frequency %v must be positive", frequency)
	}
	if frequency < minInterval {
		logNow(levelWarn, kindConfig, "frequency %v is under the watchdog's fastest polling, %v; using %v", frequency, minInterval, minInterval)
		return minInterval, nil
	}
	return frequency, nil
}

// buildPolicy runs ctor, wrapping its error with the limit it was given. A
// panic in ctor is returned as an error.
func buildPolicy(ctor PolicyCtor, limit uint64) (p Policy, err error) {
	if ctor == nil {
		return nil, errNilPolicy
	}
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("watchdog: policy constructor panicked for the limit %s: %v", fmtSize(limit), v)
		}
	}()
	p, err = ctor(limit)
	if err != nil {
		return nil, fmt.Errorf("watchdog: policy for the limit %s: %w", fmtSize(limit), err)
	}
	if p == nil {
		return nil, fmt.Errorf("watchdog: policy constructor returned a nil policy for the limit %s", fmtSize(limit))
	}
	return p, nil
}

// logStart logs the one line that says the watchdog runs, with its limit,
// its policy (watermarks or factor, and thresholds) and the next threshold.
func (r *run) logStart() {
	if r.src == nil {
		r.log(levelInfo, kindStarted, "heap watchdog started: heap limit %s; %v; GOGC %d (the program's: the ceiling), set after every GC, at least %d",
			fmtSize(r.limit), policyDesc{r.policy}, r.origGOGC, r.minGOGC)
		return
	}
	r.log(levelInfo, kindStarted, "%s watchdog started: limit %s from %s; %v; next GC at %s; polling every %v",
		r.driver, fmtSize(r.limit), r.srcName, policyDesc{r.policy}, fmtThreshold(r.threshold), r.freq)
}

// startPolled starts a watchdog over src; dynamicLimit says whether the
// limit is re-read from src while running. src is closed on any failure.
func startPolled(cfg config, driver string, scope UtilizationType, src source.Source, ctor PolicyCtor, limit uint64, frequency time.Duration, dynamicLimit bool) (error, func()) {
	policy, err := buildPolicy(ctor, limit)
	if err != nil {
		src.Close()
		return err, nil
	}
	r := newRun(driver, scope, src, ctor, policy, limit, frequency, cfg)
	r.dynamicLimit = dynamicLimit
	err, stop := r.start()
	if err != nil {
		src.Close()
	}
	return err, stop
}
