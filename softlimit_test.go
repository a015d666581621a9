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
	assert.Equal(t, uint64(16*mib), a.reserve(limit, limit), "no allocation yet: the base reserve")

	// 600 MiB/s, and cycles whose mark workers use 50 ms of CPU each: with
	// GOMAXPROCS 2 the GC's 25% share is half a CPU, so a cycle lasts 100 ms.
	st.Allocs, st.GCCycles, st.MarkCPU = 60*mib, 2, 0.1
	a.update(st, t0.Add(100*time.Millisecond))
	assert.InDelta(t, 600*mib, a.rate, mib)
	assert.InDelta(t, 0.1, a.cycle, 1e-9)
	assert.InDelta(t, 60*mib, a.reserve(limit, limit), mib, "what one cycle allocates")
	assert.Equal(t, uint64(32*mib), a.reserve(limit/2, limit), "at most a quarter of the (128 MiB) limit")
	assert.Equal(t, uint64(38*mib), a.reserve(limit, 76*mib), "at most half the heap's room")
	assert.Equal(t, uint64(16*mib), a.reserve(limit, 10*mib), "never below the base reserve")

	// Allocation stops: the rate halves every second.
	a.update(st, t0.Add(2100*time.Millisecond))
	assert.InDelta(t, 150*mib, a.rate, mib)
}
