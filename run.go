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

// config is what a driver starts with: the package settings as they were
// when it started, and Start's overrides.
type config struct {
	softLimit bool // manage debug.SetMemoryLimit (polled modes)
	events    bool // listen to the source's kernel events
}

// currentConfig reads the package settings under settingsMu.
func currentConfig() config {
	settingsMu.RLock()
	defer settingsMu.RUnlock()
	return config{softLimit: HeadroomSoftLimit, events: KernelEvents}
}

// run is one started watchdog, from start to stop. Fields below the loop
// marker belong to the loop goroutine; stats is shared under statsMu, and
// the runtime settings under rtMu.
type run struct {
	driver   string
	scope    UtilizationType
	src      source.Source      // nil in heap mode
	notifier source.Notifier    // nil when src offers no events
	prober   source.LimitProber // nil when src has no cheap limit read
	ctor     PolicyCtor
	freq     time.Duration // the polling period; heapCheck in heap mode
	minGOGC  int           // heap mode only

	dynamicLimit bool // re-read the limit from src while running
	softLimit    bool // manage debug.SetMemoryLimit

	closing  chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	exec     *executor
	panics   panicLog

	// rtMu guards the runtime settings the run changes, so that stop can
	// restore them from any goroutine, at once, even while the loop is
	// busy; after release the loop changes nothing.
	rtMu      sync.Mutex
	released  bool
	origGOGC  int   // heap mode: the program's GOGC, the ceiling and what stop restores
	gogc      int   // heap mode: GOGC we last set
	gogcSet   bool  // heap mode: we set gogc
	userLimit int64 // the program's soft limit: ceiling and what stop restores
	setLimit  int64 // soft limit we last set; 0 when none is set

	// --- loop state: owned by the loop goroutine ---
	policy        Policy
	policyLimit   uint64 // the limit policy was built for
	limit         uint64 // 0: the cgroup has no limit now; the run idles
	rejected      uint64 // last limit the policy constructor rejected; logs once
	threshold     uint64
	evalGCs       uint64 // GC cycles completed when the policy was last asked
	crossed       uint64 // the threshold whose crossing was last reported; 0 none
	armedAt       uint64 // threshold the kernel event is armed at; 0 none
	rt            runtimeReader
	usage         uint64 // the last usage measured
	reclaimable   uint64
	reclaimAt     time.Time
	limitAt       time.Time
	probed        uint64 // the last ProbeLimit value; 0 before the first
	lastRated     uint64 // usage at lastAt, for rate
	lastAt        time.Time
	rate          float64 // usage growth in bytes per second; > 0 means growing
	forcedAt      time.Time
	stuck         uint64 // a forced GC left usage at or above this threshold; 0 none
	hold          reserveHold
	trend         outsideTrend
	live          uint64 // the live heap of the last cycles (see liveFloor)
	liveMin       uint64 // the live heap a GC can surely get down to (see liveFloor)
	liveFloor     liveFloor
	beyondGC      bool   // the soft limit is released: GC cannot make room (see softlimit.go)
	softFor       uint64 // the limit the soft limit in force was set for
	thpNoted      bool   // the transparent huge pages advice was logged
	level         Pressure
	lastWords     bool          // written this run
	lastWordsDone chan struct{} // closed when they are written; nil if never started
	prof          *profiler
	srcName       string
	sourceErr     bool  // last usage read failed; logs once per streak
	reclaimErr    bool  // last reclaimable read failed; logs once per streak
	limitErr      bool  // last limit read failed; logs once per streak
	policyErr     error // why the last policy evaluation failed; logs once per streak
	gcStart       uint64

	statsMu sync.Mutex
	stats   Stats
}

func newRun(driver string, scope UtilizationType, src source.Source, ctor PolicyCtor, policy Policy, limit uint64, freq time.Duration, cfg config) *run {
	r := &run{
		driver:      driver,
		scope:       scope,
		src:         src,
		ctor:        ctor,
		policy:      policy,
		policyLimit: limit,
		limit:       limit,
		freq:        freq,
		threshold:   PolicyTempDisabled,
		closing:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	if n, ok := src.(source.Notifier); ok && src != nil && cfg.events {
		r.notifier = n
	}
	if p, ok := src.(source.LimitProber); ok && src != nil {
		r.prober = p
	}
	r.softLimit = src != nil && cfg.softLimit
	if src != nil {
		r.srcName = src.String()
	}
	return r
}

// errFirstEvaluation wraps a policy that panicked or did not answer when
// the watchdog started.
var errFirstEvaluation = errors.New("watchdog: the policy failed its first evaluation")

// start registers r as the singleton and launches its loop. It returns once
// the first evaluation has happened (polled modes) and the start line has
// reached the Logger (or the Logger outlived its budget): the watchdog is
// armed. If the first evaluation fails, the run is undone and start returns
// the error.
func (r *run) start() (error, func()) {
	r.stats = Stats{Running: true, Driver: r.driver, Limit: r.limit, Started: Clock.Now(), Source: r.srcName, Threshold: PolicyTempDisabled}
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
	r.exec.flushLogs()
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
		r.log(levelError, kindError, "%s watchdog disarmed after an internal panic: %v", r.driver, p)
	}
	r.release()
	stopGC()
	if r.src != nil {
		if err := r.src.Close(); err != nil {
			r.log(levelWarn, kindError, "closing %s: %v", r.srcName, err)
		}
	}
	r.stopOnce.Do(func() { close(r.closing) })
	r.emit(Event{Kind: EventStopped})
	if r.lastWordsDone != nil {
		t := time.NewTimer(callbackBudget)
		select {
		case <-r.lastWordsDone:
		case <-t.C:
		}
		t.Stop()
	}
	r.exec.shutdown()
	if p != nil {
		ready(fmt.Errorf("watchdog: internal panic while starting: %v", p))
	} else {
		ready(errStopped)
	}
	close(r.done)
}

var errStopped = errors.New("watchdog: stopped")

// callbackPanicked reports a panic recovered from the program's code. A
// callback that panics every time (a broken policy is asked after every GC)
// is reported once a minute, with the count of the panics in between.
func (r *run) callbackPanicked(what string, p any) {
	r.count(func(s *Stats) { s.CallbackPanics++ })
	if what == "Logger" {
		if r.panics.loggerOnce.CompareAndSwap(false, true) {
			stderrf("the Logger panicked: %v; the watchdog keeps running, and counts the Logger's panics in Stats.CallbackPanics", p)
		}
		return
	}
	if n, ok := r.panics.report(what, time.Now()); ok {
		more := ""
		if n > 0 {
			more = fmt.Sprintf(" (and %d more times since the last report)", n)
		}
		r.logShared(levelError, kindCallbackPanic, "%s panicked: %v%s; recovered, the watchdog keeps watching", what, p, more)
	}
}

// panicLog rate-limits the reports of callback panics: one per callback
// kind per panicEvery.
type panicLog struct {
	loggerOnce atomic.Bool
	mu         sync.Mutex
	last       map[string]time.Time
	muted      map[string]int
}

const panicEvery = time.Minute

// report says whether to report a panic of what now, and how many went
// unreported since the last report.
func (l *panicLog) report(what string, now time.Time) (muted int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.muted = map[string]time.Time{}, map[string]int{}
	}
	if at, seen := l.last[what]; seen && now.Sub(at) < panicEvery {
		l.muted[what]++
		return 0, false
	}
	muted = l.muted[what]
	l.last[what], l.muted[what] = now, 0
	return muted, true
}

// log queues a line for the Logger from the loop goroutine, with the loop's
// own figures as attributes for structured loggers: the same figures the
// message is built from. It never blocks the loop: a Logger that falls
// behind loses lines, counted in Stats.LogsDropped.
func (r *run) log(level logLevel, kind string, template string, args ...interface{}) {
	f := logFields{kind: kind, pc: callerPC(), driver: r.driver, usage: r.usage, threshold: r.threshold, limit: r.limit, softLimit: r.setLimit}
	r.exec.log(func() { emitLog(level, &f, template, args) })
}

// logShared is log for goroutines other than the loop's: the attributes
// come from the published stats.
func (r *run) logShared(level logLevel, kind string, template string, args ...interface{}) {
	r.statsMu.Lock()
	s := &r.stats
	f := logFields{kind: kind, pc: callerPC(), driver: r.driver, usage: s.Usage, threshold: s.Threshold, limit: s.Limit, softLimit: s.SoftLimit}
	r.statsMu.Unlock()
	r.exec.log(func() { emitLog(level, &f, template, args) })
}
