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
// threshold, the next forced GC waits for the polling period. So never a
// storm, and never less often than v1.3.0's one per period.
//
// It goes at once, though, when usage has grown enough for another GC to be
// worth it. Within 1/8 of the limit, where a kill is near, that is 1/32 of
// the limit, or crossing the threshold the policy set after that GC when it
// was above the usage then (a watermark policy's next watermark; not a
// policy that answers with the usage itself, as the adaptive one does at the
// limit). Farther from the limit it is half the way left to the limit:
// crossing the next threshold is not enough there, since the lotus
// watermarks 0.5, 0.6 and 0.7 are crossed within 200 ms of each other as a
// heap first grows, while its freed pages stay mapped.
func (r *run) mayForce(used uint64, now time.Time) bool {
	if r.exec.busy() {
		return false // the last forced GC (or a policy) has not returned
	}
	if r.stuck.at == 0 || now.Sub(r.forcedAt) >= r.freq {
		return true
	}
	near := used >= r.limit-r.limit/8
	step := r.limit / 32
	if !near && r.stuck.at < r.limit {
		step = max(step, (r.limit-r.stuck.at)/2)
	}
	if used >= r.stuck.at && used-r.stuck.at >= step {
		return true
	}
	if near && r.stuck.next > r.stuck.at && used >= r.stuck.next {
		return true
	}
	r.count(func(s *Stats) { s.ForcedGCsDeferred++ })
	return false
}

// interval is how long to wait before the next sample: the user's frequency
// (at most softLimitRefresh while the soft limit is managed), shortened as
// usage nears the threshold (while a crossing waits for the runtime's GC,
// the hold's ceiling) or grows fast towards it. It is always within
// [minInterval, max(frequency, minInterval)], whatever the state.
func (r *run) interval() time.Duration {
	d := max(r.freq, minInterval)
	if r.softLimit {
		d = min(d, softLimitRefresh)
	}
	if r.threshold == PolicyTempDisabled || r.threshold == 0 || (r.stuck.at != 0 && r.lastUsage >= r.threshold) {
		return d // nothing to approach; or backing off above the threshold
	}
	target := r.threshold
	if !r.held.until.IsZero() {
		// Waiting for the runtime's GC: approach the hold's ceiling, and
		// sample when the hold is over.
		target = r.held.ceiling
		d = max(min(d, r.held.until.Sub(Clock.Now())), minInterval)
	}
	var gap float64
	if r.lastUsage < target {
		gap = float64(target - r.lastUsage)
	}
	secs := d.Seconds()
	if band := float64(target / 10); gap < band {
		secs = secs * gap / band
	}
	if r.rate > 0 && !math.IsInf(r.rate, 0) {
		secs = min(secs, gap/r.rate/2) // half the time to cross, in float: no overflow
	}
	return max(minInterval, min(d, time.Duration(secs*float64(time.Second))))
}
