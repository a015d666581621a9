package watchdog

// tuneHeap is heap mode's reaction to a GC: ask the policy where the next GC
// must run, given the heap the GC marked live, and set GOGC so the pacer's
// goal lands there.
//
// The pacer's goal is live + base×GOGC/100, where base is the live heap plus
// the GC roots (stacks and globals). The watchdog infers base from the goal
// and the GOGC in force, so the new GOGC is (threshold-live)×100/base, kept
// within [minGOGC, the program's GOGC]. While the policy is disabled the
// goal is the limit itself, so the heap stays near its limit whatever GOGC
// the program runs with, off included. It reports whether the policy
// answered.
func (r *run) tuneHeap(st runtimeStats) bool {
	used := st.HeapLive
	ok := r.evaluate(used)
	if !ok && !r.gogcSet {
		return false // the first evaluation failed: the run does not start
	}
	r.prof.observe(used, r.limit)

	r.rtMu.Lock()
	if r.released {
		r.rtMu.Unlock()
		return ok
	}
	if r.gogcSet && st.GOGC != r.gogc {
		r.log(levelInfo, "the program changed GOGC from %d to %d: the watchdog keeps GOGC at or under it and restores it on stop",
			r.gogc, st.GOGC)
		r.origGOGC, r.gogcSet = st.GOGC, false
		r.gogc = st.GOGC
	}
	target := r.threshold
	if target == PolicyTempDisabled {
		target = r.limit
	}
	gogc := r.minGOGC
	if live := st.HeapLive; target > live && live > 0 {
		base := live
		if st.GOGC > 0 && st.HeapGoal > live {
			if b := (st.HeapGoal - live) * 100 / uint64(st.GOGC); b >= live {
				base = b
			}
		}
		want := (target - live) * 100 / base
		gogc = int(min(want, 1<<20))
	}
	if r.origGOGC >= 0 && gogc > r.origGOGC {
		gogc = r.origGOGC
	}
	gogc = max(gogc, r.minGOGC)
	if gogc != r.gogc || !r.gogcSet {
		r.log(levelDebug, "heap in use %s, live %s, next GC at %s of limit %s: GOGC %d -> %d",
			fmtSize(st.HeapObjects), fmtSize(st.HeapLive), fmtThreshold(r.threshold), fmtSize(r.limit), st.GOGC, gogc)
		setGCPercent(gogc)
		r.gogc, r.gogcSet = gogc, true
	}
	r.rtMu.Unlock()
	r.publish(used, st)
	return ok
}
