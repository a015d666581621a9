package watchdog

import (
	"errors"
	"fmt"
	"time"
)

const (
	// minInterval bounds how fast adaptive sampling may poll, and is the
	// least real time between two samples.
	minInterval = 10 * time.Millisecond
	// softLimitRefresh is the longest the soft limit goes unrefreshed while
	// usage is within a quarter of the limit or grows towards it: memory
	// outside the Go heap must be seen before it uses up the headroom.
	softLimitRefresh = 100 * time.Millisecond
	// reclaimRefresh is how stale the cached reclaimable figure may get
	// while usage is far from the threshold.
	reclaimRefresh = time.Second
	// heapCheck is how often heap mode looks at GOGC between GCs: a
	// program that turns the GC off gets no GC that would tell it.
	heapCheck = time.Second
)

// limitRefresh is how often a cgroup limit is re-read. A variable so tests
// in child processes can shorten it.
var limitRefresh = 5 * time.Second

// sampleGap is the least real (monotonic) time between the end of one
// sample and the next timer-driven one (kernel events are not held back).
// It never binds with a real Clock, whose intervals are at least
// minInterval; it keeps a Clock that jumps (a mock's Add, a resumed VM)
// from replaying a burst of catch-up samples. Loop tests on a mock clock
// set it to 0.
var sampleGap = minInterval

// testHookWait, when set, is called on the loop goroutine with the interval
// the loop is about to wait for, after its timer exists. Tests use it to know
// when advancing a mock clock will fire the timer.
var testHookWait func(time.Duration)

// loop is the one loop every driver runs. It wakes on GCs, on its timer
// (the polling period; heapCheck in heap mode) and on kernel events.
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
	w := newWaiter()
	defer w.stop()
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
		var tick, gapC <-chan time.Time
		if wait := sampleGap - time.Since(sampled); wait > 0 {
			gapC = w.gap(wait)
		} else {
			now := Clock.Now()
			if cooled && now.Sub(next) > minInterval {
				// The clock moved on far more than real time did
				// (a mock's Add, a resumed VM): no catch-up.
				next = now.Add(r.interval())
			}
			cooled = false
			d := max(next.Sub(now), 0)
			tick = w.tick(d)
			if testHookWait != nil {
				testHookWait(d)
			}
		}
		select {
		case <-r.closing:
			return
		case <-gcEvents:
			r.onGC()
			// A fresh measurement may call for an earlier poll, not a later one.
			next = minTime(next, Clock.Now().Add(r.interval()))
		case <-gapC:
			cooled = true
		case <-events: // kernel events do not come from Clock: never held back
			r.count(func(s *Stats) { s.Events++ })
			r.sample()
			sampled = time.Now()
			next = Clock.Now().Add(r.interval())
		case <-tick:
			r.sample()
			sampled = time.Now()
			next = Clock.Now().Add(r.interval())
		}
		w.disarm()
	}
}

// init takes the first measurements and, for the polled modes, evaluates the
// policy and sets the first soft limit, so the watchdog covers a burst that
// comes right after start. Heap mode changes nothing until the first GC, as
// v1.3.0. An error means the policy failed its first evaluation, and the run
// must not start.
func (r *run) init() error {
	st := readRuntime(&r.rt)
	r.gcStart, r.evalGCs = st.GCCycles, st.GCCycles
	r.rtMu.Lock()
	r.origGOGC, r.gogc = st.GOGC, st.GOGC
	if r.softLimit {
		r.userLimit = setMemoryLimit(-1)
	}
	r.rtMu.Unlock()
	r.prof = r.newProfiler()
	if r.src == nil {
		r.logStart()
		r.emit(Event{Kind: EventStarted})
		r.checkGOGC()
		return nil
	}
	r.limitAt = Clock.Now()
	r.limitProbed()
	if err := r.measure(true, st); err != nil {
		r.readFailed(err)
	}
	if !r.evaluate(st.GCCycles) {
		return fmt.Errorf("%w: %v", errFirstEvaluation, r.policyErr)
	}
	r.logStart()
	r.emit(Event{Kind: EventStarted})
	r.afterMeasure(st)
	return nil
}

// sample is one poll: measure, re-read the limit when due, catch up with a
// GC the loop has not seen yet, force a GC if usage reached the threshold,
// and refresh the soft limit.
func (r *run) sample() {
	r.count(func(s *Stats) { s.Samples++ })
	if r.src == nil {
		r.checkGOGC()
		return
	}
	st, now := readRuntime(&r.rt), Clock.Now()
	if err := r.measure(false, st); err != nil {
		r.readFailed(err)
		return
	}
	r.trackRate(now)
	if r.dynamicLimit && (now.Sub(r.limitAt) >= limitRefresh || r.limitProbed()) {
		r.limitAt = now
		r.refreshLimit()
	}
	if st.GCCycles != r.evalGCs {
		// A GC ended and its notification has not arrived yet: that GC
		// answered any crossing before it, so the policy is asked first.
		r.evaluate(st.GCCycles)
	}
	r.prof.observe(r.usage, r.limit)
	if r.usage < r.threshold {
		r.crossed, r.stuck = 0, 0
	} else if r.limit != 0 && r.mayForce(st, now) {
		st = r.forceGC()
	}
	r.afterMeasure(st)
}

// limitProbed reports whether the source's own limit changed since the
// last sample: a cut binds at once, not at the next refresh.
func (r *run) limitProbed() bool {
	if r.prober == nil {
		return false
	}
	v, err := r.prober.ProbeLimit()
	if err != nil || v == r.probed {
		return false
	}
	first := r.probed == 0
	r.probed = v
	return !first
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
	if err := r.measure(false, st); err != nil {
		r.readFailed(err)
		return
	}
	if st.GCCycles != r.evalGCs {
		before := r.threshold
		r.evaluate(st.GCCycles)
		if before != PolicyTempDisabled && r.usage >= before {
			r.gcDidNotHelp(before, st)
		}
	}
	r.afterMeasure(st)
}

// afterMeasure does what every fresh usage figure calls for.
func (r *run) afterMeasure(st runtimeStats) {
	r.live, r.liveMin = r.liveFloor.update(st)
	r.updateSoftLimit(st)
	r.updatePressure(st)
	r.publish(st)
}

// forceGC answers a threshold crossing: it runs the pre-GC notifees and
// ForcedGCFunc on the executor, waiting for them at most callbackBudget,
// then measures again and asks the policy once, as after any GC. It returns
// the runtime stats after the GC.
func (r *run) forceGC() runtimeStats {
	before, crossed := r.usage, r.threshold
	if r.crossed != crossed {
		r.crossed = crossed
		r.emit(Event{Kind: EventThresholdCrossed})
	}
	r.log(levelWarn, kindGCForced, "%s usage %s reached the threshold %s (limit %s): forcing GC",
		scopeName(r.scope), fmtSize(before), fmtSize(crossed), fmtSize(r.limit))
	forcedAt := Clock.Now()
	r.forcedAt = forcedAt
	err := r.exec.call("ForcedGCFunc", func() {
		// Counted here, where it runs, and only while the run is live:
		// stop freezes the final Stats under the same lock, so a forced
		// GC is either in them or never runs.
		ran := false
		r.count(func(s *Stats) {
			if ran = s.Running; ran {
				s.ForcedGCs++
				s.LastForcedGC = forcedAt
			}
		})
		if !ran {
			return
		}
		notify(&notifees.pre, "pre-GC notifee", nil, r.exec)
		if f := ForcedGCFunc; f != nil {
			r.exec.safely("ForcedGCFunc", f)
		}
	}, r.closing)
	st := readRuntime(&r.rt)
	if errors.Is(err, errBusy) || errors.Is(err, errStopped) {
		return st // nothing ran
	}
	if err := r.measure(true, st); err != nil {
		r.readFailed(err)
		return st
	}
	r.evaluate(st.GCCycles)
	r.emit(Event{Kind: EventGCForced, Before: before, After: r.usage, Freed: sub(before, r.usage)})
	r.stuck = 0
	if r.usage >= crossed {
		r.gcDidNotHelp(crossed, st)
		if r.usage >= r.threshold {
			// The policy answered a threshold the GC could not get under
			// (a fixed one, or the adaptive one at the limit): back off.
			r.stuck = crossed
		}
	}
	return st
}

// gcDidNotHelp reports a GC after which usage is still at or above the
// threshold in force before it.
func (r *run) gcDidNotHelp(threshold uint64, st runtimeStats) {
	outside := sub(r.usage, st.Owned)
	r.emit(Event{Kind: EventGCIneffective, Crossed: threshold, HeapLive: st.HeapLive, Outside: outside})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
