package watchdog

import "math"

// softLimitReserve is the room, in bytes, the soft limit leaves under the
// limit: 5% of it, but at least min(limit/8, 16 MiB). The soft limit is
// soft: while a GC runs, the program keeps allocating past it, and in a small
// container 5% is gone in a few milliseconds of a fast allocator.
func softLimitReserve(limit uint64) uint64 {
	return max(limit/20, min(limit/8, 16<<20))
}

// softLimitFloor is the lowest soft limit the watchdog sets, in bytes: below
// it the runtime would collect continuously for little gain.
func softLimitFloor(limit uint64) uint64 {
	return max(limit/16, 4<<20)
}

// updateSoftLimit keeps the runtime's soft memory limit at the limit less
// softLimitReserve, less the memory this process uses outside the Go runtime
// (used minus what the runtime owns), so the pacer starts a GC before the Go
// heap eats the headroom that cgo, mmap or other processes leave.
//
// The policy's threshold still decides forced GCs; the soft limit is a
// backstop that needs no sample to act. It never exceeds the soft limit the
// user had set.
func (r *run) updateSoftLimit(used uint64, st runtimeStats) {
	if !r.softLimit {
		return
	}
	target := r.limit - softLimitReserve(r.limit)
	var outside uint64
	if used > st.Owned {
		outside = used - st.Owned
	}
	soft := softLimitFloor(r.limit)
	if target > outside+soft {
		soft = target - outside
	}
	if r.userLimit > 0 && uint64(r.userLimit) < soft {
		soft = uint64(r.userLimit)
	}
	if soft > math.MaxInt64 {
		soft = math.MaxInt64
	}
	next := int64(soft)
	// Skip changes under 1/64 of the limit (less than the reserve). The
	// estimate of outside memory jitters by a few MiB from one reading to
	// the next, and each lower soft limit can start a GC at once: chasing
	// that noise doubled the GC count of a spiky workload on cgroup v2.
	if diff := next - r.setLimit; r.setLimit != 0 && diff < int64(r.limit/64) && -diff < int64(r.limit/64) {
		return
	}
	if r.setLimit == 0 {
		Logger.Infof("managing the Go soft memory limit: %d bytes (limit %d bytes, %d bytes outside the Go runtime, previous soft limit %d bytes)",
			next, r.limit, outside, r.userLimit)
	} else {
		Logger.Debugf("soft memory limit %d -> %d bytes (%d bytes outside the Go runtime)", r.setLimit, next, outside)
	}
	setMemoryLimit(next)
	r.setLimit = next
}
