package watchdog

// A threshold crossing that the runtime's own next GC answers needs no
// forced GC.

import "time"

// hold is a threshold crossing left to the runtime's next GC.
type hold struct {
	until   time.Time // the latest it lasts; zero when there is no hold
	cycles  uint64    // GC cycles completed when it began
	ceiling uint64    // usage plus the heap's way to its goal must stay under it
}

// leaveToRuntime reports whether the GC due at this crossing can be left to
// the runtime, and starts or keeps that hold. st is fresh.
//
// A forced GC is worth it when it comes before the runtime's own. As a heap
// first grows towards a GOGC goal well under the limit, it crosses the lotus
// watermarks on the way: a GC forced there frees garbage that the runtime
// collects anyway moments later, and it cannot lower usage, since freed
// pages stay mapped. In the host benchmark that one GC cost 6% more GC CPU
// than GOMEMLIMIT alone. v1.3.0 did not force it either: it polled once per
// period and re-evaluated the policy after each of the runtime's GCs, by
// which time the threshold had moved above usage.
//
// So a fresh crossing (not one the back-off holds) waits when the runtime
// allocates fast enough to reach its heap goal within one polling period,
// usage plus the heap's way to that goal stays at or under the limit less
// the soft limit's reserve (the runtime then collects before usage nears
// the limit), and the policy would move its threshold above usage after a
// GC now, as a watermark policy does below its last watermark. A policy
// that would answer with the same threshold (a fixed one, or the adaptive
// one at the limit) or disarm (past the last watermark) asks for that very
// GC, and gets it at once. The policy is re-evaluated after the runtime's
// GC as after any other; usage under the new threshold ends the hold
// without a forced GC (Stats.ForcedGCsAvoided). The GC is forced after all
// when a GC ended and usage is still at or above the threshold, when the
// polling period is over, or when usage plus the heap's way to its goal
// passes the ceiling (memory outside the heap grew). A runtime that
// allocates little, as when usage crosses by memory outside the heap, is
// not waited for: the GC is forced at once.
func (r *run) leaveToRuntime(used uint64, st runtimeStats, now time.Time) bool {
	if !r.held.until.IsZero() {
		if st.GCCycles == r.held.cycles && now.Before(r.held.until) && fits(used, runway(st), r.held.ceiling) {
			return true
		}
		r.held = hold{}
		return false
	}
	if r.stuck.at != 0 || st.HeapGoal == 0 {
		return false
	}
	reserve := max(softLimitReserve(r.limit), r.alloc.held)
	if reserve >= r.limit {
		return false
	}
	ceiling, way := r.limit-reserve, runway(st)
	period := max(r.freq, minInterval)
	rate := r.alloc.rateNow(st, now)
	if !fits(used, way, ceiling) || rate <= 0 || float64(way)/rate > period.Seconds() {
		return false
	}
	// The threshold the policy would set after a GC now: only one that
	// moves up past usage is left to the runtime.
	if next, err := r.ask(used); err != nil || next == PolicyTempDisabled || next <= used {
		return false
	}
	r.held = hold{until: now.Add(period), cycles: st.GCCycles, ceiling: ceiling}
	r.log(levelDebug, "%s usage %s reached the threshold %s; the runtime's next GC is due within %s of heap allocation (goal %s): leaving it to the runtime",
		r.scope, fmtSize(used), fmtSize(r.threshold), fmtSize(way), fmtSize(st.HeapGoal))
	return true
}

// settleHold ends a hold once usage is under the threshold again: the
// runtime's GC (or memory freed) did what a forced GC would have. After a
// GC (gcEnded) that left usage at or above the threshold, the hold is over:
// the next sample, at the 10 ms floor, forces the GC.
func (r *run) settleHold(used uint64, gcEnded bool) {
	switch {
	case r.held.until.IsZero():
	case used < r.threshold:
		r.held = hold{}
		r.count(func(s *Stats) { s.ForcedGCsAvoided++ })
	case gcEnded:
		r.held.until = Clock.Now()
	}
}

// fits reports whether used+way is at most ceiling, without overflow.
func fits(used, way, ceiling uint64) bool { return used <= ceiling && way <= ceiling-used }

// runway is how far the heap can grow before it reaches the goal at which
// the pacer's next GC is due; 0 when it is there.
func runway(st runtimeStats) uint64 {
	if st.HeapGoal > st.HeapObjects {
		return st.HeapGoal - st.HeapObjects
	}
	return 0
}
