package watchdog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raulk/go-watchdog/internal/source"
)

// singleton holds the running watchdog, if any.
var singleton struct {
	mu  sync.Mutex
	cur *run
}

// run is one started watchdog, from start to stop. Fields below the loop
// marker belong to the loop goroutine; stats is shared under statsMu, and
// the runtime settings under rtMu.
type run struct {
	driver   string
	scope    UtilizationType
	src      source.Source   // nil in heap mode
	notifier source.Notifier // nil when src offers no events
	ctor     PolicyCtor
	freq     time.Duration // 0 in heap mode
	minGOGC  int           // heap mode only

	dynamicLimit bool // re-read the limit from src while running
	softLimit    bool // manage debug.SetMemoryLimit

	closing        chan struct{}
	done           chan struct{}
	stopOnce       sync.Once
	exec           *executor
	loggerPanicked atomic.Bool // reported once on standard error

	// rtMu guards the runtime settings the run changes, so that stop can
	// restore them from any goroutine, at once, even while the loop is
	// busy; after release the loop changes nothing.
	rtMu      sync.Mutex
	released  bool
	origGOGC  int   // heap mode: the program's GOGC, the ceiling and what stop restores
	gogc      int   // heap mode: GOGC we last set
	gogcSet   bool  // heap mode: we set gogc
	userLimit int64 // the program's soft limit: ceiling and what stop restores
	setLimit  int64 // soft limit we last set; 0 when none yet

	// --- loop state: owned by the loop goroutine ---
	policy      Policy
	policyLimit uint64 // the limit policy was built for
	limit       uint64
	rejected    uint64 // last limit the policy constructor rejected; logs once
	threshold   uint64
	armedAt     uint64 // threshold the kernel event is armed at; 0 none
	rt          runtimeReader
	reclaimable uint64
	reclaimAt   time.Time
	limitAt     time.Time
	lastUsage   uint64
	lastAt      time.Time
	rate        float64 // usage growth in bytes per second; > 0 means growing
	forcedAt    time.Time
	stuck       backOff
	held        hold
	alloc       allocTracker
	trend       outsideTrend
	prof        *profiler
	srcName     string
	sourceErr   bool  // last usage read failed; logs once per streak
	reclaimErr  bool  // last reclaimable read failed; logs once per streak
	policyErr   error // why the last policy evaluation failed; logs once per streak
	gcStart     uint64

	statsMu sync.Mutex
	stats   Stats
}

func newRun(driver string, scope UtilizationType, src source.Source, ctor PolicyCtor, policy Policy, limit uint64, freq time.Duration) *run {
	r := &run{
		driver:      driver,
		scope:       scope,
		src:         src,
		ctor:        ctor,
		policy:      policy,
		policyLimit: limit,
		limit:       limit,
		freq:        freq,
		closing:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	if n, ok := src.(source.Notifier); ok && src != nil && KernelEvents {
		r.notifier = n
	}
	r.softLimit = src != nil && HeadroomSoftLimit
	if src != nil {
		r.srcName = src.String()
	}
	return r
}

// errFirstEvaluation wraps a policy that panicked or did not answer when
// the watchdog started.
var errFirstEvaluation = errors.New("watchdog: the policy failed its first evaluation")

// start registers r as the singleton and launches its loop. It returns once
// the first evaluation has happened: the watchdog is armed. If that
// evaluation fails, the run is undone and start returns the error.
func (r *run) start() (error, func()) {
	r.stats = Stats{Running: true, Driver: r.driver, Limit: r.limit, Started: Clock.Now(), Source: r.srcName}
	singleton.mu.Lock()
	if singleton.cur != nil {
		singleton.mu.Unlock()
		return ErrAlreadyStarted, nil
	}
	singleton.cur = r // the slot is taken; policies may call Snapshot from here on
	singleton.mu.Unlock()

	r.exec = newExecutor(r.callbackPanicked, func() { r.count(func(s *Stats) { s.LogsDropped++ }) })
	ready := make(chan error, 1)
	var once sync.Once
	go r.loop(func(err error) { once.Do(func() { ready <- err }) })
	if err := <-ready; err != nil {
		<-r.done
		return err, nil
	}
	return nil, r.stop
}

// stop ends the run. It restores GOGC and the soft memory limit and frees
// the singleton at once, then waits for the loop to exit, unless it was
// called from a callback of this run, which the loop may be waiting for: the
// loop then exits right after the callback returns. It is idempotent, safe
// from any goroutine, and never affects a watchdog started after this one.
func (r *run) stop() {
	r.release()
	r.stopOnce.Do(func() { close(r.closing) })
	if r.exec != nil && r.exec.onExecutor() {
		return
	}
	<-r.done
}

// release restores the runtime settings the run changed, marks it stopped
// and frees the singleton. Idempotent; the loop changes nothing after it.
// Settings the program changed since the watchdog last set them are the
// program's, and stay.
func (r *run) release() {
	r.rtMu.Lock()
	if r.released {
		r.rtMu.Unlock()
		return
	}
	r.released = true
	if r.gogcSet && readRuntimeGOGC() == r.gogc {
		setGCPercent(r.origGOGC)
	}
	if r.setLimit != 0 && setMemoryLimit(-1) == r.setLimit {
		setMemoryLimit(r.userLimit)
	}
	r.rtMu.Unlock()

	r.statsMu.Lock()
	r.stats.Running = false
	final := r.stats
	r.statsMu.Unlock()

	singleton.mu.Lock()
	if singleton.cur == r {
		singleton.cur = nil
		lastStats = final
	}
	singleton.mu.Unlock()
}

// exit ends the loop goroutine, normally or by a panic of the watchdog's
// own code: it releases the run, closes the source and the executor, and
// releases start if it is still waiting.
func (r *run) exit(ready func(error), stopGC func()) {
	p := recover()
	if p != nil {
		r.log(levelError, "%s watchdog disarmed after an internal panic: %v", r.driver, p)
	}
	r.release()
	stopGC()
	if r.src != nil {
		if err := r.src.Close(); err != nil {
			r.log(levelWarn, "closing %s: %v", r.srcName, err)
		}
	}
	r.stopOnce.Do(func() { close(r.closing) })
	r.exec.shutdown()
	if p != nil {
		ready(fmt.Errorf("watchdog: internal panic while starting: %v", p))
	} else {
		ready(errStopped)
	}
	close(r.done)
}

var errStopped = errors.New("watchdog: stopped")

// callbackPanicked reports a panic recovered from the program's code.
func (r *run) callbackPanicked(what string, p any) {
	r.count(func(s *Stats) { s.CallbackPanics++ })
	if what == "Logger" {
		if r.loggerPanicked.CompareAndSwap(false, true) {
			stderrf("the Logger panicked: %v; the watchdog keeps running, and counts the Logger's panics in Stats.CallbackPanics", p)
		}
		return
	}
	r.log(levelError, "%s panicked: %v; recovered, the watchdog keeps watching", what, p)
}

// log queues a line for the Logger, with the run's current state for
// structured loggers. It never blocks the loop: a Logger that falls behind
// loses lines, counted in Stats.LogsDropped.
func (r *run) log(level logLevel, template string, args ...interface{}) {
	f := r.fields()
	r.exec.log(func() { emit(level, &f, template, args) })
}

// fields reads the state for log lines from the published stats, so any
// goroutine may log.
func (r *run) fields() logFields {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	s := &r.stats
	return logFields{driver: r.driver, usage: s.Usage, threshold: s.Threshold, limit: s.Limit, softLimit: s.SoftLimit}
}

// backOff is the state of the forced-GC back-off (see mayForce); the zero
// value is none.
type backOff struct {
	at    uint64 // usage after a forced GC that did not get under its threshold; 0 none
	below uint64 // that threshold: usage under it ends the back-off
	next  uint64 // the threshold the policy set after that GC
}
