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
	assert.Equal(t, uint64(16*mib), a.reserve(limit, limit, true, 0, t0), "no allocation yet: the base reserve")

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
		return b.reserve(limit, room, true, 0, t0)
	}
	assert.InDelta(t, 60*mib, fresh(limit, limit), mib, "what one cycle allocates")
	assert.Equal(t, uint64(32*mib), fresh(limit/2, limit), "at most a quarter of the (128 MiB) limit")
	assert.Equal(t, uint64(20*mib), fresh(limit, 80*mib), "at most a quarter of the heap's room")
	assert.Equal(t, uint64(16*mib), fresh(limit, 10*mib), "never below the base reserve")
	unpaced := a
	unpaced.held = 0
	assert.Equal(t, uint64(16*mib), unpaced.reserve(limit, limit, false, 0, t0), "paced by GOGC: the base reserve only")
	ahead := a
	ahead.held = 0
	assert.Equal(t, uint64(23*mib), ahead.reserve(limit, 28*mib, true, 7*mib, t0), "outside growth adds on top")

	// Held: it rises at once, and falls back by at most limit/64 a second.
	now := t0.Add(250 * time.Millisecond)
	assert.InDelta(t, 60*mib, a.reserve(limit, limit, true, 0, now), mib)
	assert.InDelta(t, 60*mib, a.reserve(limit, 80*mib, true, 0, now.Add(time.Second)), mib, "20 MiB is 40 MiB lower: not after one second")
	assert.Equal(t, uint64(20*mib), a.reserve(limit, 80*mib, true, 0, now.Add(11*time.Second)), "after 40/4 seconds")

	// Allocation stops: the rate halves every second.
	a.update(st, t0.Add(2250*time.Millisecond))
	assert.InDelta(t, 150*mib, a.rate, mib)
}

func TestOutsideTrendCountsSustainedGrowthOnly(t *testing.T) {
	const limit = 256 * mib
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	// feed samples every 100 ms for secs seconds from start, outside(t)
	// giving the outside bytes at t seconds.
	feed := func(tr *outsideTrend, from, secs float64, outside func(float64) float64) {
		for x := from; x < from+secs-1e-9; x += 0.1 {
			tr.update(uint64(outside(x)), t0.Add(time.Duration(x*float64(time.Second))))
		}
	}

	var jump outsideTrend // 100 MiB mapped at once, then static
	feed(&jump, 0, 5, func(x float64) float64 {
		if x < 0.5 {
			return 0
		}
		return 100 * mib
	})
	assert.Zero(t, jump.ahead(limit, limit), "a single jump is not a trend")

	var noise outsideTrend // static, with a 3 MiB jitter
	feed(&noise, 0, 10, func(x float64) float64 { return 50*mib + float64(int(x*10)%3)*mib })
	assert.Zero(t, noise.ahead(limit, limit), "jitter is not a trend")

	var slow outsideTrend // 2 MiB/s: under limit/64 per second
	feed(&slow, 0, 5, func(x float64) float64 { return 40*mib + x*2*mib })
	assert.Zero(t, slow.ahead(limit, limit))

	var growing outsideTrend // offheap-growing: 4 MiB steps every 240 ms
	step := func(x float64) float64 { return 40*mib + float64(int(x/0.24))*4*mib }
	feed(&growing, 0, 1.05, step)
	assert.Zero(t, growing.ahead(limit, limit), "one window is not enough")
	feed(&growing, 1.05, 2, step)
	assert.Equal(t, uint64(4*mib), growing.ahead(limit, limit), "one soft-limit step")
	assert.Equal(t, uint64(2*mib), growing.ahead(limit, 8*mib), "at most a quarter of the room")
	assert.Equal(t, uint64(mib), growing.ahead(64*mib, 64*mib), "a step is limit/64")

	// Growth stops: nothing ahead two windows later.
	end := step(3.05)
	feed(&growing, 3.05, 2.1, func(float64) float64 { return end })
	assert.Zero(t, growing.ahead(limit, limit))
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
