package watchdog

import (
	"math"
	"time"
)

// softLimitReserve is the base room, in bytes, the soft limit leaves under
// the limit: 5% of it, but at least min(limit/8, 16 MiB). The soft limit is
// soft: while a GC runs, the program keeps allocating past it, and in a
// small container 5% is gone in a few milliseconds of a fast allocator.
func softLimitReserve(limit uint64) uint64 {
	return max(limit/20, min(limit/8, 16<<20))
}

// reserveHold is the reserve's slow fall: it rises at once and falls back by
// at most limit/64 per second. Without it, 2 of 55 offheap runs were
// OOM-killed against none of 110 with it (make bench's runner with -variant,
// 2026-12-03); weak evidence, kept because it is survival.
type reserveHold struct {
	held   uint64 // the reserve last returned
	heldAt time.Time
}

// reserve is the room to keep under limit: the base reserve plus ahead (see
// outsideTrend), never above half the limit, falling slowly. A new limit
// starts afresh (the hold is reset), so a reserve held from a far larger
// limit cannot outlive it.
func (h *reserveHold) reserve(limit, ahead uint64, now time.Time) uint64 {
	r := min(add(softLimitReserve(limit), ahead), limit/2)
	if r < h.held && h.held <= limit/2 {
		fall := uint64(float64(limit/64) * max(now.Sub(h.heldAt).Seconds(), 0))
		if h.held-r > fall {
			return h.held // not yet: heldAt stays, so the allowance grows
		}
	}
	h.held, h.heldAt = r, now
	return r
}

// outsideTrend follows sustained growth of the memory outside the Go
// runtime (mmap, cgo, other processes in the group), measured over windows
// of trendWindow. The soft limit follows that memory one sample late, and
// only in steps of limit/64 (see updateSoftLimit), so while it grows the
// heap sits on a soft limit that is a step or two too high: in the host
// benchmark, 4 MiB mmap steps every 240 ms in a 256 MiB group took the peak
// past 95% of the cap.
//
// Growth counts as sustained when two windows in a row show it: a single
// jump (a buffer mapped at start) and the jitter of the outside figure,
// which swings back in the next window, do not.
type outsideTrend struct {
	at    time.Time
	start uint64  // outside bytes at at
	last  float64 // growth over the last complete window, bytes/s; may be < 0
	slope float64 // sustained growth, bytes/s: the lesser of the last two, ≥ 0
}

const trendWindow = time.Second

func (t *outsideTrend) update(outside uint64, now time.Time) {
	if t.at.IsZero() {
		t.at, t.start = now, outside
		return
	}
	dt := now.Sub(t.at)
	if dt < trendWindow {
		return
	}
	s := (float64(outside) - float64(t.start)) / dt.Seconds()
	t.slope = max(min(s, t.last), 0)
	t.last = s
	t.at, t.start = now, outside
}

// ahead is the reserve sustained outside growth adds: one soft-limit step
// (limit/64), at most a quarter of room. Growth under limit/64 per second
// adds nothing. One step is enough to absorb the lag: in the host benchmark
// it kept the offheap-growing peaks at 238-242 MiB of 256 (241-244 without),
// while a step plus the growth expected over two refreshes doubled that
// scenario's GC count in the cgroup v2 VM for no fewer memory.max events.
func (t *outsideTrend) ahead(limit, room uint64) uint64 {
	if t.slope < float64(limit/64) {
		return 0
	}
	return min(limit/64, room/4)
}

// liveFloor keeps the live heap the last GC cycles reported. A cycle's live
// heap counts what the program allocated while it marked, so it swings with
// the allocation rate: in a 64 MiB group, a 36 MiB live heap with fast churn
// and forced GCs read 54 MiB for two cycles in a row, and 193 MiB in one.
// recent, the lesser of the last two cycles, shows a live heap that grew
// after two GCs: the pressure level uses it. floor, the least of the last
// eight, is what a GC can surely get the heap down to: the soft limit's
// decision that GC cannot make room, which lets the heap grow, waits for it.
type liveFloor struct {
	cycles uint64
	vals   [8]uint64
	n      int
}

// update records st's cycle if it is new and returns recent and floor; both
// are 0 before the first GC.
func (l *liveFloor) update(st runtimeStats) (recent, floor uint64) {
	if st.HeapLive == 0 { // no GC yet
		return 0, 0
	}
	if st.GCCycles != l.cycles || l.n == 0 {
		l.cycles = st.GCCycles
		copy(l.vals[1:], l.vals[:])
		l.vals[0] = st.HeapLive
		l.n = min(l.n+1, len(l.vals))
	}
	recent, floor = l.vals[0], l.vals[0]
	if l.n > 1 {
		recent = min(recent, l.vals[1])
	}
	for _, x := range l.vals[1:l.n] {
		floor = min(floor, x)
	}
	return recent, floor
}

// detectTHP reports whether the kernel backs this process's anonymous
// memory with transparent huge pages unasked (see thpAlways). A variable so
// tests can pin it.
var detectTHP = thpAlways

// updateSoftLimit keeps the runtime's soft memory limit at the limit less
// the reserve, less the memory this process uses outside the Go runtime
// (usage minus what the runtime owns), so the pacer starts a GC before the
// Go heap eats the headroom that cgo, mmap or other processes leave. The
// policy's threshold still decides forced GCs; the soft limit is a backstop
// that needs no sample to act.
//
// It never squeezes the runtime where GC cannot make room. Under a cgroup
// limit (a wall: past it the kernel kills) that is when the room left is
// under what a GC can reach, the runtime's own overhead plus the live heap
// (see liveFloor), by more than limit/32: the soft limit would only make
// the runtime collect back to back. Short of that it stays, never under
// what a GC can reach, as costly GCs beat a kill: a 96 MiB live heap in a
// 128 MiB group survives under a 112 MiB soft limit and is killed without
// one. The system's memory is no such wall (the kernel
// reclaims, other processes come and go), so there the floor also leaves
// the heap a quarter of the live heap to grow into (GOGC 25, HeapDriven's
// default floor). Below its floor the watchdog says once that GC cannot
// make room, releases the soft limit to the program's own and lets the
// runtime run as it would without a watchdog, until the room is back
// (limit/32 more). The same happens while the run has no limit.
//
// It never exceeds the program's own soft limit: a change the program makes
// while the watchdog runs (what it reads back is not what it last set) is
// adopted as the new ceiling, and is what stop restores.
func (r *run) updateSoftLimit(st runtimeStats) {
	if !r.softLimit {
		return
	}
	now := Clock.Now()
	limit, live := r.limit, r.liveMin
	outside := sub(r.usage, st.Owned)
	room := sub(limit, add(outside, live))
	r.trend.update(outside, now)
	reserve := r.hold.reserve(limit, r.trend.ahead(limit, room), now)
	target := sub(sub(limit, reserve), outside)
	need, slack := add(st.NonHeap, live), limit/32
	if r.scope == UtilizationSystem {
		need, slack = add(need, live/4), 0
	}
	// Past the floor: limit - reserve - outside + slack < need, without
	// the underflow of target.
	short := add(need, add(reserve, outside))
	beyond := limit == 0 || add(limit, slack) < short || (r.beyondGC && limit < short)
	if beyond != r.beyondGC && limit != 0 {
		r.beyondGC = beyond
		r.count(func(s *Stats) { s.BeyondGC = beyond })
		if beyond {
			r.log(levelWarn, kindBeyondGC, "GC cannot make room: %s outside the Go runtime and a live heap of %s leave %s under the limit %s (reserve %s), "+
				"short of the %s the heap needs to run; the watchdog leaves the soft memory limit to the program until there is room again",
				fmtSize(outside), fmtSize(live), fmtSize(target), fmtSize(limit), fmtSize(reserve), fmtSize(need))
		} else {
			r.log(levelInfo, kindBeyondGC, "there is room for the heap again (%s of the %s it needs): the watchdog manages the soft memory limit again",
				fmtSize(target), fmtSize(need))
		}
	}
	r.count(func(s *Stats) { s.Reserve = reserve })

	r.rtMu.Lock()
	defer r.rtMu.Unlock()
	if r.released {
		return
	}
	cur := setMemoryLimit(-1)
	if r.setLimit != 0 && cur != r.setLimit {
		r.log(levelInfo, kindSoftLimit, "the program changed the Go soft memory limit from %s to %s: the watchdog keeps under it and restores it on stop",
			fmtSoftLimit(r.setLimit), fmtSoftLimit(cur))
		r.setLimit = 0
	}
	if r.setLimit == 0 {
		r.userLimit = cur // nothing of ours in force: what is there is the program's
	}
	r.count(func(s *Stats) { s.UserSoftLimit = r.userLimit })
	if beyond || limit == 0 {
		if r.setLimit != 0 {
			old := r.setLimit
			setMemoryLimit(r.userLimit)
			r.setLimit = 0
			r.emit(Event{Kind: EventSoftLimitChanged, SoftLimit: r.userLimit, OldSoftLimit: old})
		}
		return
	}
	next := int64(min(max(target, need), math.MaxInt64))
	if r.userLimit > 0 && r.userLimit < next {
		next = r.userLimit
	}
	// Skip changes under 1/64 of the limit (less than the reserve) while
	// the limit stays: the estimate of outside memory jitters by a few MiB
	// from one reading to the next, and each lower soft limit can start a
	// GC at once; chasing that noise doubled the GC count of a spiky
	// workload on cgroup v2.
	step := int64(limit / 64)
	if diff := next - r.setLimit; r.setLimit != 0 && r.softFor == limit && diff < step && -diff < step {
		return
	}
	if r.setLimit == 0 {
		r.log(levelInfo, kindSoftLimit, "managing the Go soft memory limit: %s (limit %s, reserve %s, %s outside the Go runtime, the program's soft limit %s)",
			fmtSize(uint64(next)), fmtSize(limit), fmtSize(reserve), fmtSize(outside), fmtSoftLimit(r.userLimit))
		if !r.thpNoted && detectTHP() {
			r.thpNoted = true
			r.log(levelInfo, kindSoftLimit, "transparent huge pages are always on: heap pages the runtime releases stay charged until the kernel splits their huge pages, "+
				"so usage can reach the limit before the kernel frees them, and where the cgroup's counters cannot tell them apart they read as memory outside the Go runtime "+
				"and can make the runtime collect far more often; GODEBUG=disablethp=1, or THP on madvise, avoids it")
		}
	} else {
		r.log(levelDebug, kindSoftLimit, "soft memory limit %s -> %s (reserve %s, %s outside the Go runtime)",
			fmtSoftLimit(r.setLimit), fmtSize(uint64(next)), fmtSize(reserve), fmtSize(outside))
	}
	old := r.setLimit
	setMemoryLimit(next)
	r.setLimit, r.softFor = next, limit
	if old == 0 {
		old = r.userLimit
	}
	r.emit(Event{Kind: EventSoftLimitChanged, SoftLimit: next, OldSoftLimit: old})
}
