package watchdog

// The watchdog's own work has a budget: how many GCs it forces when GC
// cannot help, and how often it samples.

import (
	"math"
	"time"
)

// mayForce is the forced-GC budget. A forced GC that left usage at or above
// the threshold it was forced at shows that GC cannot bring usage down for
// now: what other processes, off-heap memory, the page cache or pages the
// heap keeps mapped hold is not garbage. Until usage goes back under that
// threshold, the next forced GC waits for the polling period, unless usage
// has grown by a step (backOffStep). So never a storm, never less often than
// v1.3.0's one per period, and still at once when usage runs towards the
// limit.
func (r *run) mayForce(used uint64, now time.Time) bool {
	if r.exec.busy() {
		return false // the last forced GC (or a policy) has not returned
	}
	if r.stuckAt == 0 || now.Sub(r.forcedAt) >= r.freq || (used >= r.stuckAt && used-r.stuckAt >= r.backOffStep()) {
		return true
	}
	r.count(func(s *Stats) { s.ForcedGCsDeferred++ })
	return false
}

// backOffStep is the growth above stuckAt that makes a forced GC worth it
// again before the polling period is over: 1/32 of the limit, and while
// usage is under 7/8 of the limit, at least half the way left to it.
// Crossing the policy's next threshold is not enough by itself there: the
// lotus watermarks 0.5, 0.6 and 0.7 are crossed within 200 ms of each other
// as a heap first grows, and its freed pages stay mapped. Closer to the
// limit, where a kill is near, 1/32 of growth is enough, as before.
func (r *run) backOffStep() uint64 {
	step := r.limit / 32
	if r.stuckAt < r.limit-r.limit/8 {
		step = max(step, (r.limit-r.stuckAt)/2)
	}
	return step
}

// interval is how long to wait before the next sample: the user's frequency
// (at most softLimitRefresh while the soft limit is managed), shortened as
// usage nears the threshold or grows fast towards it. It is always within
// [minInterval, max(frequency, minInterval)], whatever the state.
func (r *run) interval() time.Duration {
	d := max(r.freq, minInterval)
	if r.softLimit {
		d = min(d, softLimitRefresh)
	}
	if r.threshold == PolicyTempDisabled || r.threshold == 0 || (r.stuckAt != 0 && r.lastUsage >= r.threshold) {
		return d // nothing to approach; or backing off above the threshold
	}
	var gap float64
	if r.lastUsage < r.threshold {
		gap = float64(r.threshold - r.lastUsage)
	}
	secs := d.Seconds()
	if band := float64(r.threshold / 10); gap < band {
		secs = secs * gap / band
	}
	if r.rate > 0 && !math.IsInf(r.rate, 0) {
		secs = min(secs, gap/r.rate/2) // half the time to cross, in float: no overflow
	}
	return max(minInterval, min(d, time.Duration(secs*float64(time.Second))))
}
