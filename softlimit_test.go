package watchdog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReserveRisesAtOnceAndFallsSlowly(t *testing.T) {
	const limit = 256 * mib
	var h reserveHold
	t0 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, uint64(16*mib), h.reserve(limit, 0, t0), "the base reserve")
	assert.Equal(t, uint64(56*mib), h.reserve(limit, 40*mib, t0), "outside growth adds on top, at once")
	assert.Equal(t, uint64(56*mib), h.reserve(limit, 0, t0.Add(time.Second)), "40 MiB lower: not after one second")
	assert.Equal(t, uint64(16*mib), h.reserve(limit, 0, t0.Add(11*time.Second)), "after 40/4 seconds")
	assert.Equal(t, uint64(limit/2), h.reserve(limit, limit, t0), "never above half the limit")
	var small reserveHold
	assert.Equal(t, uint64(3*mib), small.reserve(24*mib, 0, t0), "an eighth of a small limit")
	assert.Equal(t, uint64(0), small.reserve(0, 0, t0), "no limit, no reserve")
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
