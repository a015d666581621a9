package watchdog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.False(t, jump.growing(limit), "a single jump is not a trend")

	var noise outsideTrend // static, with a 3 MiB jitter
	feed(&noise, 0, 10, func(x float64) float64 { return 50*mib + float64(int(x*10)%3)*mib })
	assert.False(t, noise.growing(limit), "jitter is not a trend")

	var slow outsideTrend // 2 MiB/s: under limit/64 per second
	feed(&slow, 0, 5, func(x float64) float64 { return 40*mib + x*2*mib })
	assert.False(t, slow.growing(limit))

	var growing outsideTrend // offheap-growing: 4 MiB steps every 240 ms
	step := func(x float64) float64 { return 40*mib + float64(int(x/0.24))*4*mib }
	feed(&growing, 0, 1.05, step)
	assert.False(t, growing.growing(limit), "one window is not enough")
	feed(&growing, 1.05, 2, step)
	assert.True(t, growing.growing(limit))
	assert.InDelta(t, 16.7*mib, growing.slope, 2*mib)

	// Growth stops: not growing two windows later.
	end := step(3.05)
	feed(&growing, 3.05, 2.1, func(float64) float64 { return end })
	assert.False(t, growing.growing(limit))
	assert.False(t, (&outsideTrend{}).growing(0))
}

// While outside memory grows steadily, the soft limit follows it down by
// less than the 1/64-of-the-limit step; otherwise such changes wait.
func TestSoftLimitFollowsGrowingOutsideMemoryWithoutHysteresis(t *testing.T) {
	const limit = 256 * mib
	h := newHarness(t, limit, 0)
	h.start(NewWatermarkPolicy(0.99), time.Second)
	d := h.wait()
	at := func(outside uint64) {
		h.src.set(func(f *fakeSource) { f.usage = outside })
		d = h.tick(d)
	}
	at(40 * mib) // a jump: the soft limit follows it (more than a step)
	set := len(h.softLimits())
	for i := 0; i < 5; i++ { // static with jitter under a step
		at(40*mib + uint64(i%2)*3*mib)
	}
	assert.Len(t, h.softLimits(), set, "jitter under limit/64 moves nothing")

	outside := uint64(43 * mib)
	for h.clock.Now().Sub(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) < 3*time.Second {
		outside += 2 * mib // 20 MiB/s in 2 MiB samples: under a step each
		at(outside)
	}
	limits := h.softLimits()
	require.Greater(t, len(limits), set+5, "a steady fall is followed sample by sample")
	assert.Equal(t, int64(limit-16*mib-outside), limits[len(limits)-1])
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
