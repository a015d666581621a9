package watchdog

import (
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
)

const (
	// minInterval bounds how fast adaptive sampling may poll, and is the
	// least real time between two samples.
	minInterval = 10 * time.Millisecond
	// softLimitRefresh is the longest the soft limit goes unrefreshed when
	// it is managed: bursts of memory outside the Go heap must be seen
	// before they use up the headroom.
	softLimitRefresh = 100 * time.Millisecond
	// reclaimRefresh is how stale the cached reclaimable figure may get
	// while usage is far from the threshold.
	reclaimRefresh = time.Second
)

// limitRefresh is how often a cgroup limit is re-read. A variable so tests
// in child processes can shorten it.
var limitRefresh = 5 * time.Second

// sampleGap is the least real (monotonic) time between the end of one
// sample and the next timer-driven one (kernel events are not held back). It never binds with
// a real Clock, whose intervals are at least minInterval; it keeps a Clock
// that jumps (a mock's Add, a resumed VM) from replaying a burst of
// catch-up samples. Loop tests on a mock clock set it to 0.
var sampleGap = minInterval

// testHookWait, when set, is called on the loop goroutine with the interval
// the loop is about to wait for, after its timer exists. Tests use it to know
// when advancing a mock clock will fire the timer.
var testHookWait func(time.Duration)

// loop is the one loop every driver runs. Heap mode wakes only on GC; the
// polled modes also wake on their timer and on kernel events.
func (r *run) loop(ready func(error)) {
	gcEvents, stopGC := newGCWatcher()
	defer r.exit(ready, stopGC)

	if err := r.init(); err != nil {
		ready(err)
		return
	}
	ready(nil)

	var events <-chan struct{}
	if r.notifier != nil {
		events = r.notifier.Events()
	}
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	defer gap.Stop()
	// The next poll is a deadline, not a wait restarted at every wake-up:
	// a program that collects more often than the interval must still be
	// polled (forced GC check, limit refresh).
	next := Clock.Now().Add(r.interval())
	var sampled time.Time // real time of the last sample
	cooled := false       // the last wait was the real-time gap after a sample
	for {
		select {
		case <-r.closing: // stopped while busy, e.g. from a callback
			return
		default:
		}
		var timer *clock.Timer
		var tick, gapC <-chan time.Time
		var ev <-chan struct{}
		if r.src != nil {
			ev = events // kernel events do not come from Clock: never held back
			if wait := sampleGap - time.Since(sampled); wait > 0 {
				resetTimer(gap, wait)
				gapC = gap.C
			} else {
				now := Clock.Now()
				if cooled && now.Sub(next) > minInterval {
					// The clock moved on far more than real time did
					// (a mock's Add, a resumed VM): no catch-up.
					next = now.Add(r.interval())
				}
				cooled = false
				d := max(next.Sub(now), 0)
				timer = Clock.Timer(d)
				tick = timer.C
				if testHookWait != nil {
					testHookWait(d)
				}
			}
		}
		select {
		case <-r.closing:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-gcEvents:
			r.onGC()
			// A fresh measurement may call for an earlier poll, not a later one.
			next = minTime(next, Clock.Now().Add(r.interval()))
		case <-gapC:
			cooled = true
		case <-ev:
			r.count(func(s *Stats) { s.Events++ })
			r.sample()
			sampled = time.Now()
			next = Clock.Now().Add(r.interval())
		case <-tick:
			r.sample()
			sampled = time.Now()
			next = Clock.Now().Add(r.interval())
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// resetTimer resets t to d, draining a stale fire, under both the pre-1.23
// and the current timer semantics (the module that links the watchdog
// decides which one applies).
func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// init takes the first measurements, evaluates the policy and, for the
// polled modes, sets the first soft limit, so the watchdog covers a burst
// that comes right after start. An error means the policy failed its first
// evaluation, and the run must not start.
func (r *run) init() error {
	st := readRuntime(&r.rt)
	r.gcStart = st.GCCycles
	r.rtMu.Lock()
	r.origGOGC, r.gogc = st.GOGC, st.GOGC
	if r.softLimit {
		r.userLimit = setMemoryLimit(-1)
	}
	r.rtMu.Unlock()
	r.prof = r.newProfiler()
	if r.src == nil {
		if !r.tuneHeap(st) {
			return fmt.Errorf("%w: %v", errFirstEvaluation, r.policyErr)
		}
		r.logStart()
		return nil
	}
	r.limitAt = Clock.Now()
	used, err := r.measure(true)
	if err != nil {
		r.readFailed(err)
	}
	if !r.evaluate(used) {
		return fmt.Errorf("%w: %v", errFirstEvaluation, r.policyErr)
	}
	r.logStart()
	r.afterMeasure(used, st)
	return nil
}

// sample is one poll: measure, force a GC if usage reached the threshold,
// refresh the limit and the soft limit.
func (r *run) sample() {
	r.count(func(s *Stats) { s.Samples++ })
	used, err := r.measure(false)
	if err != nil {
		r.readFailed(err)
		return
	}
	st, now := readRuntime(&r.rt), Clock.Now()
	r.trackRate(used, now)
	if r.dynamicLimit && now.Sub(r.limitAt) >= limitRefresh {
		r.limitAt = now
		r.refreshLimit(used)
	}
	if used < r.stuck.below {
		r.stuck = backOff{} // back under: the back-off is over
	}
	r.settleHold(used, false)
	// A policy asked by leaveToRuntime that outlived its budget keeps the
	// executor busy: no forced GC until it returns, as in mayForce.
	if used >= r.threshold && r.mayForce(used, now) && !r.leaveToRuntime(used, st, now) && !r.exec.busy() {
		crossed := r.threshold
		r.forceGC(used)
		if used, err = r.measure(true); err != nil {
			r.readFailed(err)
			return
		}
		st = readRuntime(&r.rt)
		r.evaluate(used)
		r.stuck = backOff{}
		if used >= crossed {
			r.stuck = backOff{at: max(used, 1), below: crossed, next: r.threshold}
		}
	}
	r.afterMeasure(used, st)
}

// onGC runs after the GC cycles the watchdog observes: it updates the
// watchdog first, then queues the post-GC notifications, so they see a
// fresh Snapshot.
func (r *run) onGC() {
	st := readRuntime(&r.rt)
	defer r.exec.postNotify(func() { notify(&notifees.post, "post-GC notifee", NotifyGC, r.exec) })
	if r.src == nil {
		r.tuneHeap(st)
		return
	}
	used, err := r.measure(false)
	if err != nil {
		r.readFailed(err)
		return
	}
	r.evaluate(used)
	r.settleHold(used, true)
	r.afterMeasure(used, st)
}

// afterMeasure does what every fresh usage figure calls for.
func (r *run) afterMeasure(used uint64, st runtimeStats) {
	r.alloc.update(st, Clock.Now())
	r.updateSoftLimit(used, st)
	r.prof.observe(used, r.limit)
	r.publish(used, st)
}

// forceGC runs the pre-GC notifees and ForcedGCFunc on the executor, and
// waits for them at most callbackBudget.
func (r *run) forceGC(used uint64) {
	r.log(levelWarn, "%s usage %s reached the threshold %s (limit %s): forcing GC",
		r.scope, fmtSize(used), fmtSize(r.threshold), fmtSize(r.limit))
	r.forcedAt = Clock.Now()
	r.count(func(s *Stats) {
		s.ForcedGCs++
		s.LastForcedGC = r.forcedAt
	})
	r.exec.call("ForcedGCFunc", func() {
		notify(&notifees.pre, "pre-GC notifee", nil, r.exec)
		if f := ForcedGCFunc; f != nil {
			r.exec.safely("ForcedGCFunc", f)
		}
	}, r.closing)
}

// refreshLimit re-reads the limit. The limit, the soft limit and Snapshot
// follow it at once; the policy is rebuilt for it, and when the constructor
// rejects it the old policy stays, with one warning per rejected limit.
func (r *run) refreshLimit(used uint64) {
	limit, err := r.src.Limit()
	if name := r.src.String(); name != r.srcName {
		r.log(levelInfo, "the process moved: reading %s instead of %s", name, r.srcName)
		r.srcName = name
		r.count(func(s *Stats) { s.Source = name })
	}
	if err != nil {
		r.log(levelWarn, "re-reading the limit of %s: %v; keeping %s", r.srcName, err, fmtSize(r.limit))
		return
	}
	if limit != r.limit {
		r.log(levelInfo, "limit of %s changed from %s to %s", r.srcName, fmtSize(r.limit), fmtSize(limit))
		r.limit = limit
	}
	if limit == r.policyLimit || limit == r.rejected {
		return
	}
	var policy Policy
	if r.exec.call("the policy constructor", func() { policy, err = buildPolicy(r.ctor, limit) }, r.closing) != nil {
		return // buildPolicy recovers panics; a constructor that blocks is tried at the next refresh
	}
	if err != nil {
		r.rejected = limit
		r.log(levelWarn, "keeping the policy built for %s: %v", fmtSize(r.policyLimit), err)
		return
	}
	r.log(levelInfo, "policy rebuilt for the limit %s: %s", fmtSize(limit), describePolicy(policy))
	r.policy, r.policyLimit, r.rejected = policy, limit, 0
	r.evaluate(used)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
