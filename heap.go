package watchdog

// tuneHeap is heap mode's reaction to a GC: ask the policy where the next GC
// must run, given the heap the GC marked live, and set GOGC so the pacer's
// goal lands there. Heap mode asks its policy only here, after GCs, as
// v1.3.0 did.
func (r *run) tuneHeap(st runtimeStats) {
	r.usage = st.HeapLive
	if st.GCCycles != r.evalGCs {
		before := r.threshold
		r.evaluate(st.GCCycles)
		if before != PolicyTempDisabled && r.usage >= before {
			r.gcDidNotHelp(before, st)
		}
	}
	r.prof.observe(r.usage, r.limit)
	r.live, r.liveMin = r.liveFloor.update(st)
	r.setGOGC(st, false)
	r.updatePressure(st)
	r.publish(st)
}

// checkGOGC is heap mode's sample, also taken at start: a GOGC the program
// set since the last GC becomes the ceiling at once, and GOGC is set again
// under it. A program that runs with the GC off gets no GC to wait for, so
// then the watchdog asks the policy and sets GOGC at once.
func (r *run) checkGOGC() {
	st := readRuntime(&r.rt)
	r.rtMu.Lock()
	changed := r.gogcSet && st.GOGC != r.gogc
	off := !r.gogcSet && st.GOGC < 0
	r.rtMu.Unlock()
	if off && r.evalGCs == r.gcStart && r.threshold == PolicyTempDisabled {
		r.usage = r.plannedLive(st)
		r.evaluate(st.GCCycles)
	}
	if changed || off {
		r.setGOGC(st, off)
	}
	r.publish(st)
}

// setGOGC sets GOGC so the pacer's next goal is the threshold.
//
// The pacer's goal is live + base×GOGC/100, where base is the live heap plus
// the GC roots (stacks and globals). The watchdog infers base from the goal
// and the GOGC in force, so the new GOGC is (threshold-live)×100/base, kept
// within [minGOGC, the program's GOGC]. While the policy is disabled the
// goal is the limit itself, so the heap stays near its limit whatever GOGC
// the program runs with, off included. Before the first GC GOGC stays as
// it is, unless now is set.
func (r *run) setGOGC(st runtimeStats, now bool) {
	r.rtMu.Lock()
	defer r.rtMu.Unlock()
	if r.released || (st.GCCycles == r.gcStart && !now) {
		return
	}
	switch {
	case r.gogcSet && st.GOGC != r.gogc:
		r.log(levelInfo, kindGOGC, "the program changed GOGC from %d to %d: the watchdog keeps GOGC at or under it and restores it on stop",
			r.gogc, st.GOGC)
		r.origGOGC = st.GOGC
	case !r.gogcSet:
		r.origGOGC = st.GOGC // the program's, as it is at the first GC
	}
	r.gogc = st.GOGC
	target := r.threshold
	if target == PolicyTempDisabled {
		target = r.limit
	}
	gogc := r.minGOGC
	live := r.plannedLive(st)
	if target > live && live > 0 {
		base := live
		if st.GOGC > 0 && st.HeapGoal > live {
			if b := (st.HeapGoal - live) * 100 / uint64(st.GOGC); b >= live {
				base = b
			}
		}
		gogc = 1 << 20
		if q := (target - live) / base; q < 1<<20/100 {
			gogc = int(q*100 + (target-live)%base*100/base)
		}
	}
	if r.origGOGC >= 0 && gogc > r.origGOGC {
		gogc = r.origGOGC
	}
	gogc = max(gogc, r.minGOGC)
	if gogc != r.gogc || !r.gogcSet {
		r.log(levelDebug, kindGOGC, "heap in use %s, live %s, next GC at %s of limit %s: GOGC %d -> %d",
			fmtSize(st.HeapObjects), fmtSize(st.HeapLive), fmtThreshold(r.threshold), fmtSize(r.limit), st.GOGC, gogc)
		setGCPercent(gogc)
		r.gogc, r.gogcSet = gogc, true
	}
}

// plannedLive is the live heap heap mode plans from: the last GC's figure,
// or, while no GC has run since start (GOGC off), the heap in use when
// more, since the last GC's figure is stale then.
func (r *run) plannedLive(st runtimeStats) uint64 {
	if st.GCCycles == r.gcStart {
		return max(st.HeapLive, st.HeapObjects)
	}
	return st.HeapLive
}
