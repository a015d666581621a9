package watchdog

import "math"

// softLimitFraction is the share of the limit the soft limit steers towards:
// close enough to the limit that the pacer collects no more often than it
// would anyway, far enough to leave room for the next sample.
const softLimitFraction = 0.95

// softLimitFloor is the lowest soft limit the watchdog sets, in bytes: below
// it the runtime would collect continuously for little gain.
func softLimitFloor(limit uint64) uint64 {
	return max(limit/16, 4<<20)
}

// updateSoftLimit keeps the runtime's soft memory limit at
// softLimitFraction×limit minus the memory this process uses outside the Go
// runtime (used minus what the runtime owns), so the pacer starts a GC before
// the Go heap eats the headroom that cgo, mmap or other processes leave.
//
// The policy's threshold still decides forced GCs; the soft limit is a
// backstop that needs no sample to act. It never exceeds the soft limit the
// user had set.
func (r *run) updateSoftLimit(used uint64, st runtimeStats) {
	if !r.softLimit {
		return
	}
	target := uint64(float64(r.limit) * softLimitFraction)
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
	// Skip changes under 1/256 of the limit: they do not move the pacer.
	if diff := next - r.setLimit; r.setLimit != 0 && diff < int64(r.limit/256) && -diff < int64(r.limit/256) {
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
