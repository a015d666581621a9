package watchdog

import (
	"fmt"
	"sync"
	"time"

	"github.com/raulk/go-watchdog/internal/source"
)

// singleton holds the running watchdog, if any.
var singleton struct {
	mu  sync.Mutex
	cur *run
}

// run is one started watchdog, from start to stop. Fields below the loop
// marker belong to the loop goroutine; stats is shared under statsMu.
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

	closing  chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// --- loop state: owned by the loop goroutine ---
	policy      Policy
	limit       uint64
	threshold   uint64
	armedAt     uint64 // threshold the kernel event is armed at; 0 none
	rt          runtimeReader
	origGOGC    int
	gogc        int
	userLimit   int64 // soft limit in force at start
	setLimit    int64 // soft limit we last set; 0 when none yet
	reclaimable uint64
	reclaimAt   time.Time
	limitAt     time.Time
	lastUsage   uint64
	lastAt      time.Time
	rate        float64 // bytes per second, smoothed; > 0 means growing
	prof        *profiler
	sourceErr   bool // last read failed; logs once per streak
	gcStart     uint64

	statsMu sync.Mutex
	stats   Stats
}

func newRun(driver string, scope UtilizationType, src source.Source, ctor PolicyCtor, policy Policy, limit uint64, freq time.Duration) *run {
	r := &run{
		driver:  driver,
		scope:   scope,
		src:     src,
		ctor:    ctor,
		policy:  policy,
		limit:   limit,
		freq:    freq,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if n, ok := src.(source.Notifier); ok && src != nil && KernelEvents {
		r.notifier = n
	}
	r.softLimit = src != nil && HeadroomSoftLimit
	return r
}

// start registers r as the singleton and launches its loop.
func (r *run) start() (error, func()) {
	r.stats = Stats{Running: true, Driver: r.driver, Limit: r.limit, Started: Clock.Now()}
	if r.src != nil {
		r.stats.Source = r.src.String()
	}
	singleton.mu.Lock()
	if singleton.cur != nil {
		singleton.mu.Unlock()
		return ErrAlreadyStarted, nil
	}
	singleton.cur = r // the slot is taken; policies may call Snapshot from here on
	singleton.mu.Unlock()

	ready := make(chan struct{})
	go r.loop(sync.OnceFunc(func() { close(ready) }))
	<-ready // the first evaluation has happened: the watchdog is armed
	return nil, r.stop
}

// stop ends the loop and waits for it to restore the runtime settings. It is
// idempotent and safe to call from several goroutines, and it never affects
// a watchdog started after this one.
func (r *run) stop() {
	r.stopOnce.Do(func() { close(r.closing) })
	<-r.done
}

// exit undoes what the run changed. It runs on the loop goroutine as the loop
// returns, normally or by panic, and releases start if it is still waiting.
func (r *run) exit(ready func()) {
	if p := recover(); p != nil {
		Logger.Errorf("%s watchdog disarmed after a panic: %v", r.driver, p)
	}
	ready()
	if r.src == nil && r.gogc != r.origGOGC {
		setGCPercent(r.origGOGC)
	}
	if r.setLimit != 0 {
		setMemoryLimit(r.userLimit)
	}
	if r.src != nil {
		if err := r.src.Close(); err != nil {
			Logger.Warnf("closing %s: %v", r.src, err)
		}
	}
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
	close(r.done)
}

// evaluate asks the policy for the next threshold and re-arms the usage event.
// A panic in the policy propagates to the loop, which disarms the watchdog.
func (r *run) evaluate(used uint64) {
	next := r.policy.Evaluate(r.scope, used)
	if next != r.threshold {
		Logger.Debugf("%s usage %d bytes of limit %d bytes: next GC at %s", r.scope, used, r.limit, fmtThreshold(next))
	}
	r.threshold = next
	r.arm(next)
}

// arm moves the kernel usage event to the threshold (0 removes it when the
// policy is disabled). Arming costs syscalls, so only a change re-arms. A
// failure leaves the watchdog polling only.
func (r *run) arm(threshold uint64) {
	if threshold == PolicyTempDisabled {
		threshold = 0
	}
	if r.notifier == nil || threshold == r.armedAt {
		return
	}
	if err := r.notifier.Arm(threshold); err != nil {
		Logger.Warnf("arming a usage event at %d bytes on %s: %v; polling only", threshold, r.src, err)
		r.notifier = nil
		return
	}
	r.armedAt = threshold
}

func fmtThreshold(t uint64) string {
	if t == PolicyTempDisabled {
		return "never (policy disabled until the next GC)"
	}
	return fmt.Sprintf("%d bytes", t)
}
