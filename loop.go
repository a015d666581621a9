package watchdog

import (
	"time"

	"github.com/benbjohnson/clock"
)

const (
	// minInterval bounds how fast adaptive sampling may poll.
	minInterval = 10 * time.Millisecond
	// softLimitRefresh is the longest the soft limit goes unrefreshed when
	// HeadroomSoftLimit is on: bursts of memory outside the Go heap must be
	// seen before they use up the headroom.
	softLimitRefresh = 100 * time.Millisecond
	// reclaimRefresh is how stale the cached inactive file figure may get
	// while usage is far from the threshold.
	reclaimRefresh = time.Second
)

// limitRefresh is how often a cgroup limit is re-read. A variable so tests
// in child processes can shorten it.
var limitRefresh = 5 * time.Second

// testHookWait, when set, is called on the loop goroutine with the interval
// the loop is about to wait for, after its timer exists. Tests use it to know
// when advancing a mock clock will fire the timer.
var testHookWait func(time.Duration)

// loop is the one loop every driver runs. Heap mode wakes only on GC; the
// polled modes also wake on their timer and on kernel events.
func (r *run) loop(ready func()) {
	defer r.exit(ready)
	gcEvents, stopGC := newGCWatcher()
	defer stopGC()

	r.init()
	ready()

	var events <-chan struct{}
	if r.notifier != nil {
		events = r.notifier.Events()
	}
	// The next poll is a deadline, not a wait restarted at every wake-up:
	// a program that collects more often than the interval must still be
	// polled (forced GC check, limit refresh).
	next := Clock.Now().Add(r.interval())
	for {
		var timer *clock.Timer
		var tick <-chan time.Time
		if r.src != nil {
			d := max(next.Sub(Clock.Now()), 0)
			timer = Clock.Timer(d)
			tick = timer.C
			if testHookWait != nil {
				testHookWait(d)
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
		case <-events:
			r.count(func(s *Stats) { s.Events++ })
			r.sample()
			next = Clock.Now().Add(r.interval())
		case <-tick:
			r.sample()
			next = Clock.Now().Add(r.interval())
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// init takes the first measurements, evaluates the policy and, for the
// polled modes, sets the first soft limit, so the watchdog covers a burst
// that comes right after start.
func (r *run) init() {
	st := readRuntime(&r.rt)
	r.gcStart = st.GCCycles
	r.origGOGC, r.gogc = st.GOGC, st.GOGC
	r.prof = newProfiler()
	if r.src == nil {
		r.tuneHeap(st)
		return
	}
	if r.softLimit {
		r.userLimit = setMemoryLimit(-1)
	}
	r.limitAt = Clock.Now()
	used, err := r.measure(true)
	if err != nil {
		r.readFailed(err)
	}
	r.evaluate(used)
	r.afterMeasure(used, st)
	Logger.Infof("%s watchdog started on %s: limit %d bytes, polling every %v, next GC at %s",
		r.driver, r.src, r.limit, r.freq, fmtThreshold(r.threshold))
}

// sample is one poll: measure, force a GC if usage reached the threshold,
// refresh the soft limit.
func (r *run) sample() {
	r.count(func(s *Stats) { s.Samples++ })
	used, err := r.measure(false)
	if err != nil {
		r.readFailed(err)
		return
	}
	now := Clock.Now()
	r.trackRate(used, now)
	if r.dynamicLimit && now.Sub(r.limitAt) >= limitRefresh {
		r.limitAt = now
		r.refreshLimit(used)
	}
	if used >= r.threshold {
		r.forceGC(used)
		if used, err = r.measure(true); err != nil {
			r.readFailed(err)
			return
		}
		r.evaluate(used)
	}
	r.afterMeasure(used, readRuntime(&r.rt))
}

// onGC runs after every GC cycle the watchdog observes. It updates the
// watchdog first, so post-GC notifees see a fresh Snapshot.
func (r *run) onGC() {
	defer notify(&notifees.post, NotifyGC)
	st := readRuntime(&r.rt)
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
	r.afterMeasure(used, st)
}

// afterMeasure does what every fresh usage figure calls for.
func (r *run) afterMeasure(used uint64, st runtimeStats) {
	r.updateSoftLimit(used, st)
	r.prof.observe(used, r.limit)
	r.publish(used, st)
}

// measure returns the working set: raw usage minus the inactive file cache.
// The cache figure costs a stat file parse, so it is re-read only when exact
// is set, when it is stale, or when raw usage is near the threshold.
func (r *run) measure(exact bool) (uint64, error) {
	raw, err := r.src.Usage()
	if err != nil {
		return 0, err
	}
	r.readOK()
	now := Clock.Now()
	near := r.threshold != PolicyTempDisabled && raw >= r.threshold-r.threshold/10
	if exact || near || now.Sub(r.reclaimAt) >= reclaimRefresh {
		rec, err := r.src.Reclaimable()
		if err != nil {
			Logger.Warnf("reading reclaimable cache from %s: %v; counting it as used", r.src, err)
			rec = 0
		}
		r.reclaimable, r.reclaimAt = rec, now
	}
	if r.reclaimable >= raw {
		return 0, nil
	}
	return raw - r.reclaimable, nil
}

// forceGC runs the pre-GC notifees and ForcedGCFunc.
func (r *run) forceGC(used uint64) {
	Logger.Infof("%s usage %d bytes reached threshold %d bytes (limit %d bytes): forcing GC",
		r.scope, used, r.threshold, r.limit)
	notify(&notifees.pre, nil)
	start := Clock.Now()
	ForcedGCFunc()
	r.count(func(s *Stats) {
		s.ForcedGCs++
		s.LastForcedGC = start
	})
}

// trackRate keeps a growth rate estimate (bytes per second) that follows a
// burst at once and decays by half per sample when growth stops.
func (r *run) trackRate(used uint64, now time.Time) {
	if !r.lastAt.IsZero() {
		if dt := now.Sub(r.lastAt).Seconds(); dt > 0 {
			inst := (float64(used) - float64(r.lastUsage)) / dt
			r.rate = max(inst, r.rate/2)
		}
	}
	r.lastUsage, r.lastAt = used, now
}

// interval is how long to wait before the next sample: the user's frequency
// (at most softLimitRefresh while the soft limit is managed), shortened as
// usage nears the threshold or grows fast towards it, never below
// minInterval.
func (r *run) interval() time.Duration {
	d := r.freq
	if r.softLimit && d > softLimitRefresh {
		d = softLimitRefresh
	}
	if r.threshold == PolicyTempDisabled || r.threshold == 0 {
		return d
	}
	var gap uint64
	if r.lastUsage < r.threshold {
		gap = r.threshold - r.lastUsage
	}
	if band := r.threshold / 10; gap < band {
		d = min(d, max(minInterval, time.Duration(float64(d)*float64(gap)/float64(band))))
	}
	if r.rate > 0 {
		eta := time.Duration(float64(gap) / r.rate * float64(time.Second) / 2)
		d = min(d, max(minInterval, eta))
	}
	return d
}

// refreshLimit re-reads the limit and, when it changed, rebuilds the policy.
func (r *run) refreshLimit(used uint64) {
	limit, err := r.src.Limit()
	if err != nil {
		Logger.Warnf("re-reading the limit of %s: %v; keeping %d bytes", r.src, err, r.limit)
		return
	}
	if limit == r.limit {
		return
	}
	policy, err := buildPolicy(r.ctor, limit)
	if err != nil {
		Logger.Warnf("limit of %s changed from %d to %d bytes but %v; keeping %d bytes", r.src, r.limit, limit, err, r.limit)
		return
	}
	Logger.Infof("limit of %s changed from %d to %d bytes; policy rebuilt", r.src, r.limit, limit)
	r.limit, r.policy = limit, policy
	r.evaluate(used)
}

func (r *run) readFailed(err error) {
	if !r.sourceErr {
		Logger.Warnf("reading usage from %s: %v; will retry at every sample", r.src, err)
	}
	r.sourceErr = true
	r.count(func(s *Stats) { s.ReadErrors++ })
}

func (r *run) readOK() {
	if r.sourceErr {
		Logger.Infof("reading usage from %s works again", r.src)
		r.sourceErr = false
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
