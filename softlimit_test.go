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
	assert.Equal(t, uint64(16*mib), a.reserve(limit, limit, t0), "no allocation yet: the base reserve")

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
		return b.reserve(limit, room, t0)
	}
	assert.InDelta(t, 60*mib, fresh(limit, limit), mib, "what one cycle allocates")
	assert.Equal(t, uint64(32*mib), fresh(limit/2, limit), "at most a quarter of the (128 MiB) limit")
	assert.Equal(t, uint64(20*mib), fresh(limit, 80*mib), "at most a quarter of the heap's room")
	assert.Equal(t, uint64(16*mib), fresh(limit, 10*mib), "never below the base reserve")

	// Held: it rises at once, and falls back by at most limit/64 a second.
	now := t0.Add(250 * time.Millisecond)
	assert.InDelta(t, 60*mib, a.reserve(limit, limit, now), mib)
	assert.InDelta(t, 60*mib, a.reserve(limit, 80*mib, now.Add(time.Second)), mib, "20 MiB is 40 MiB lower: not after one second")
	assert.Equal(t, uint64(20*mib), a.reserve(limit, 80*mib, now.Add(11*time.Second)), "after 40/4 seconds")

	// Allocation stops: the rate halves every second.
	a.update(st, t0.Add(2250*time.Millisecond))
	assert.InDelta(t, 150*mib, a.rate, mib)
}
