package watchdog

// The watchdog's own work has a budget: how many GCs it forces when GC
// cannot help, and how often it samples.

import (
	"math"
	"time"
)

// mayForce is the forced-GC budget. Every crossing of a threshold the policy
// set above usage gets its forced GC at the sample that sees it, as in
// v1.3.0. The budget only binds after a forced GC that left usage at or
// above both the threshold it was forced at and the threshold the policy set
// next (a fixed policy, or the adaptive one at the limit): GC cannot bring
// usage under it, whatever holds that memory (other processes, memory
// outside the Go heap, page cache, freed heap pages still mapped). Until
// usage drops under it, the next forced GC waits for the polling period,
// which is v1.3.0's pace, unless the Go heap has since allocated limit/16
// bytes, the most a GC could now free.
func (r *run) mayForce(st runtimeStats, now time.Time) bool {
	if r.exec.busy() {
		return false // the last forced GC (or a policy) has not returned
	}
	if r.stuck == 0 || now.Sub(r.forcedAt) >= r.freq {
		return true
	}
	if sub(st.HeapObjects, st.HeapLive) >= r.limit/16 {
		return true
	}
	r.count(func(s *Stats) { s.ForcedGCsDeferred++ })
	return false
}

// interval is how long to wait before the next sample. It starts from the
// user's frequency (heapCheck in heap mode) and shortens:
//
//   - while the soft limit is managed, to softLimitRefresh when usage is
//     within a quarter of the limit, and to half the time usage takes to
//     reach the limit at its current growth rate: the soft limit must see
//     memory outside the Go heap before it eats the headroom;
//   - as usage nears the threshold, in proportion within the last tenth of
//     it, and to half the time usage takes to reach it.
//
// Far from the limit and the threshold, an idle program is sampled once per
// frequency. The result is always within [minInterval, max(frequency,
// minInterval)], whatever the state.
func (r *run) interval() time.Duration {
	d := max(r.freq, minInterval)
	if r.src == nil || r.limit == 0 || r.exec.busy() {
		return d // heap mode; no limit; or a callback outlived its budget: nothing to hurry for
	}
	if r.softLimit && !r.beyondGC {
		if r.usage >= r.limit-r.limit/4 {
			d = min(d, softLimitRefresh)
		}
		d = min(d, eta(sub(r.limit, r.usage), r.rate))
	}
	if r.threshold == PolicyTempDisabled || r.threshold == 0 || (r.stuck != 0 && r.usage >= r.threshold) {
		return max(d, minInterval) // nothing to approach; or backing off above the threshold
	}
	gap := sub(r.threshold, r.usage)
	secs := d.Seconds()
	if band := r.threshold / 10; gap < band {
		secs = secs * float64(gap) / float64(band)
	}
	d = min(d, time.Duration(secs*float64(time.Second)), eta(gap, r.rate))
	return max(minInterval, d)
}

// eta is half the time growth at rate bytes per second takes to cover gap
// bytes, or an hour when usage does not grow.
func eta(gap uint64, rate float64) time.Duration {
	if rate <= 0 || math.IsInf(rate, 0) {
		return time.Hour
	}
	return time.Duration(min(float64(gap)/rate/2, 3600) * float64(time.Second))
}
