package watchdog

// tuneHeap is heap mode's reaction to a GC: ask the policy where the next GC
// must run, given the heap the GC marked live, and set GOGC so the pacer's
// goal lands there.
//
// The pacer's goal is live + base×GOGC/100, where base is the live heap plus
// the GC roots (stacks and globals). The watchdog infers base from the goal
// and the GOGC in force, so the new GOGC is (threshold-live)×100/base, kept
// within [minGOGC, original GOGC].
func (r *run) tuneHeap(st runtimeStats) {
	used := st.HeapLive
	r.evaluate(used)
	r.prof.observe(used, r.limit)

	gogc := r.origGOGC
	if r.threshold != PolicyTempDisabled {
		gogc = r.minGOGC
		if live := st.HeapLive; r.threshold > live && live > 0 {
			base := live
			if st.GOGC > 0 && st.HeapGoal > live {
				if b := (st.HeapGoal - live) * 100 / uint64(st.GOGC); b >= live {
					base = b
				}
			}
			want := (r.threshold - live) * 100 / base
			gogc = int(min(want, 1<<20))
		}
		if r.origGOGC >= 0 && gogc > r.origGOGC {
			gogc = r.origGOGC
		}
		if gogc < r.minGOGC {
			gogc = r.minGOGC
		}
	}
	if gogc != r.gogc {
		Logger.Debugf("heap in use %d bytes, live %d bytes, next GC at %s of limit %d bytes: GOGC %d -> %d",
			used, st.HeapLive, fmtThreshold(r.threshold), r.limit, r.gogc, gogc)
		setGCPercent(gogc)
		r.gogc = gogc
	}
	r.publish(used, st)
}
