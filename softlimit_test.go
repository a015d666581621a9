package watchdog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReserveFollowsAllocationRateWithinTheRoom(t *testing.T) {
	const limit = 256 * mib
	var a allocTracker
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	st := runtimeStats{Procs: 2}
	a.update(st, t0)
	assert.Equal(t, uint64(16*mib), a.reserve(limit, limit, true, t0), "no allocation yet: the base reserve")

	// 600 MiB/s, and cycles whose mark workers use 50 ms of CPU each: with
	// GOMAXPROCS 2 the GC's 25% share is half a CPU, so a cycle lasts 100 ms.
	st.Allocs = 10 * mib
	a.update(st, t0.Add(10*time.Millisecond))
	assert.Zero(t, a.rate, "a burst over 10 ms is not a rate")
	st.Allocs, st.GCCycles, st.MarkCPU = 150*mib, 2, 0.1
	a.update(st, t0.Add(250*time.Millisecond))
	assert.InDelta(t, 600*mib, a.rate, mib)
	assert.InDelta(t, 0.1, a.cycle, 1e-9)
	fresh := func(limit, room uint64) uint64 { // the same estimates, no reserve held
		b := a
		b.held = 0
		return b.reserve(limit, room, true, t0)
	}
	assert.InDelta(t, 60*mib, fresh(limit, limit), mib, "what one cycle allocates")
	assert.Equal(t, uint64(32*mib), fresh(limit/2, limit), "at most a quarter of the (128 MiB) limit")
	assert.Equal(t, uint64(20*mib), fresh(limit, 80*mib), "at most a quarter of the heap's room")
	assert.Equal(t, uint64(16*mib), fresh(limit, 10*mib), "never below the base reserve")
	unpaced := a
	unpaced.held = 0
	assert.Equal(t, uint64(16*mib), unpaced.reserve(limit, limit, false, t0), "paced by GOGC: the base reserve only")

	// Held: it rises at once, and falls back by at most limit/64 a second.
	now := t0.Add(250 * time.Millisecond)
	assert.InDelta(t, 60*mib, a.reserve(limit, limit, true, now), mib)
	assert.InDelta(t, 60*mib, a.reserve(limit, 80*mib, true, now.Add(time.Second)), mib, "20 MiB is 40 MiB lower: not after one second")
	assert.Equal(t, uint64(20*mib), a.reserve(limit, 80*mib, true, now.Add(11*time.Second)), "after 40/4 seconds")

	// Allocation stops: the rate halves every second.
	a.update(st, t0.Add(2250*time.Millisecond))
	assert.InDelta(t, 150*mib, a.rate, mib)
}

func TestLimitPaced(t *testing.T) {
	for _, c := range []struct {
		name string
		st   runtimeStats
		want bool
	}{
		{"goal from GOGC, roots included", runtimeStats{GOGC: 100, HeapLive: 88 * mib, HeapGoal: 177 * mib}, false},
		{"goal from GOGC, no roots", runtimeStats{GOGC: 100, HeapLive: 88 * mib, HeapGoal: 176 * mib}, false},
		{"within 1/32 of the live heap: GOGC", runtimeStats{GOGC: 100, HeapLive: 64 * mib, HeapGoal: 127 * mib}, false},
		{"goal cut by the memory limit", runtimeStats{GOGC: 100, HeapLive: 136 * mib, HeapGoal: 200 * mib}, true},
		{"GOGC 50", runtimeStats{GOGC: 50, HeapLive: 100 * mib, HeapGoal: 150 * mib}, false},
		{"GOGC 50, limited", runtimeStats{GOGC: 50, HeapLive: 100 * mib, HeapGoal: 120 * mib}, true},
		{"GC off: only the limit paces", runtimeStats{GOGC: -1, HeapLive: 10 * mib, HeapGoal: 200 * mib}, true},
	} {
		assert.Equal(t, c.want, limitPaced(c.st), c.name)
	}
}
