package watchdog

// The watchdog's own work has a budget: forced GCs back off when GC cannot
// help, the sampling interval stays within [minInterval, frequency], and a
// mock clock that jumps replays no burst of samples.

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForcedGCBackOffWhenGCCannotHelp(t *testing.T) {
	h := newHarness(t, 100*mib, 120*mib) // above the limit: another process holds it
	h.start(NewAdaptivePolicy(0.5), time.Second)
	d := h.wait()
	assert.Equal(t, softLimitRefresh, d, "backing off, the loop samples at its idle pace, not the 10 ms floor")
	assert.Zero(t, h.forced)
	// Two seconds of 100 ms samples above the threshold.
	for i := 0; i < 20; i++ {
		d = h.tick(d)
		assert.Equal(t, softLimitRefresh, d)
	}
	assert.Equal(t, 2, h.forced, "one forced GC per second (the frequency), not one per sample")
	assert.Equal(t, uint64(18), Snapshot().ForcedGCsDeferred)

	// Growth by 1/32 of the limit is worth a GC at once.
	h.src.set(func(f *fakeSource) { f.usage += 100 * mib / 32 })
	h.tick(d)
	assert.Equal(t, 3, h.forced)

	// Under the threshold again, the back-off is over: the next crossing
	// forces a GC at once.
	h.src.set(func(f *fakeSource) { f.usage = 10 * mib })
	d = h.tick(d)
	h.gcEnded() // the runtime's GC re-evaluates: threshold 55 MiB
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.tick(d)
	assert.Equal(t, 4, h.forced)
}

// A heap that first grows keeps its freed pages mapped: a forced GC at a
// low watermark leaves usage where it was, and the next watermark is
// crossed moments later. Those crossings wait for the polling period unless
// usage runs halfway to the limit.
func TestForcedGCBackOffBetweenWatermarks(t *testing.T) {
	const limit = 256 * mib
	h := newHarness(t, limit, 100*mib)
	h.start(NewWatermarkPolicy(0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95), time.Second)
	d := h.wait()
	grow := func(to uint64) {
		h.src.set(func(f *fakeSource) { f.usage = to })
		d = h.tick(d)
	}
	grow(129 * mib) // over 0.5: forced, and usage stays over 128 MiB
	require.Equal(t, 1, h.forced)
	grow(154 * mib) // over 0.6, 100 ms later
	grow(180 * mib) // over 0.7
	assert.Equal(t, 1, h.forced, "watermarks crossed right after a GC that freed no usage wait")
	assert.Equal(t, uint64(2), Snapshot().ForcedGCsDeferred)

	// Halfway from 129 MiB to the limit is 192.5 MiB: worth a GC at once.
	grow(193 * mib)
	require.Equal(t, 2, h.forced)
	assert.Equal(t, fraction(limit, 0.85), Snapshot().Threshold)

	// Usage back under the threshold the last GC could not get under ends
	// the back-off: the next crossing forces a GC at once.
	grow(150 * mib)
	d = h.gcEnded() // the runtime's GC re-evaluates: threshold 153.6 MiB
	grow(155 * mib)
	assert.Equal(t, 3, h.forced)

	// The polling period also ends it: 155 MiB is stuck over 153.6 MiB,
	// and the threshold after it is 179.2 MiB.
	// The period runs from the loop's own record of that GC: the mock
	// clock moves in steps while it fires timers, so the test's reading of
	// it after the tick can be later than the loop's.
	forcedAt := Snapshot().LastForcedGC
	require.False(t, forcedAt.IsZero())
	grow(180 * mib)
	assert.Equal(t, 3, h.forced)
	for h.clock.Now().Sub(forcedAt) < time.Second {
		require.Equal(t, 3, h.forced, "deferred for the polling period")
		d = h.tick(d)
	}
	assert.Equal(t, 4, h.forced, "one forced GC per period while GC frees no usage")
}

// Within 1/8 of the limit, where a kill is near, the policy's next
// threshold or growth by 1/32 of the limit is worth a forced GC at once.
func TestForcedGCBackOffNearTheLimit(t *testing.T) {
	const limit = 256 * mib
	h := newHarness(t, limit, 200*mib)
	h.start(NewWatermarkPolicy(0.85, 0.9, 0.925, 0.95), time.Second)
	d := h.wait()
	grow := func(to uint64) {
		h.src.set(func(f *fakeSource) { f.usage = to })
		d = h.tick(d)
	}
	grow(219 * mib) // over 0.85, under 7/8 of the limit (224 MiB); stays there
	require.Equal(t, 1, h.forced)
	grow(223 * mib)
	assert.Equal(t, 1, h.forced)
	grow(231 * mib) // over 0.9 and within 1/8 of the limit: at once
	require.Equal(t, 2, h.forced)
	grow(237 * mib) // over 0.925, 6 MiB more
	assert.Equal(t, 3, h.forced)
	grow(243*mib + mib/2) // over 0.95
	assert.Equal(t, 4, h.forced)
	assert.Zero(t, Snapshot().ForcedGCsDeferred)
}

func TestIdleSamplingStaysIdleAfterGrowth(t *testing.T) {
	for _, soft := range []bool{true, false} {
		h := newHarness(t, 1000*mib, 10*mib)
		HeadroomSoftLimit = soft
		h.start(NewWatermarkPolicy(0.9), time.Second)
		idle := time.Second
		if soft {
			idle = softLimitRefresh
		}
		d := h.wait()
		for i := 0; i < 3; i++ { // growth far below the threshold
			h.src.set(func(f *fakeSource) { f.usage += 20 * mib })
			d = h.tick(d)
		}
		// Then idle for a long time: the growth estimate decays to zero and
		// the interval goes back to the idle pace, never to the floor.
		for i := 0; i < 200; i++ {
			d = h.tick(d)
			if i >= 20 {
				require.Equal(t, idle, d, "sample %d of an idle process (soft limit %v)", i, soft)
			}
		}
		h.stop()
	}
}

// randomRun is a run in a random state, for the interval property.
func randomRun(rng *rand.Rand) *run {
	pick := func(vals ...uint64) uint64 { return vals[rng.Intn(len(vals))] }
	r := &run{
		freq:      time.Duration(pick(1, uint64(time.Millisecond), uint64(10*time.Millisecond), uint64(time.Second), uint64(time.Hour), math.MaxInt64)),
		softLimit: rng.Intn(2) == 0,
		threshold: pick(0, 1, 9, 10, 1<<20, 1<<40, math.MaxUint64-1, PolicyTempDisabled, rng.Uint64()),
		lastUsage: pick(0, 1, 1<<20, 1<<40, math.MaxUint64, rng.Uint64()),
		stuck:     backOff{at: pick(0, 0, 1, rng.Uint64())},
	}
	if rng.Intn(2) == 0 { // a crossing waiting for the runtime's GC
		r.held = hold{until: Clock.Now().Add(time.Duration(rng.Int63() - math.MaxInt64/2)), ceiling: pick(0, 1, 1<<30, math.MaxUint64, rng.Uint64())}
	}
	switch rng.Intn(5) {
	case 0:
		r.rate = 0
	case 1:
		r.rate = math.SmallestNonzeroFloat64
	case 2:
		r.rate = math.MaxFloat64
	case 3:
		r.rate = math.Inf(1)
	default:
		r.rate = rng.Float64() * math.Pow(2, float64(rng.Intn(80)))
	}
	return r
}

func checkInterval(t *testing.T, r *run) {
	t.Helper()
	d := r.interval()
	upper := max(r.freq, minInterval)
	if d < minInterval || d > upper {
		t.Fatalf("interval %v outside [%v, %v] for freq %v soft %v threshold %d usage %d rate %g stuck %d hold %+v",
			d, minInterval, upper, r.freq, r.softLimit, r.threshold, r.lastUsage, r.rate, r.stuck.at, r.held)
	}
	if r.softLimit && d > softLimitRefresh {
		t.Fatalf("interval %v above %v while the soft limit is managed", d, softLimitRefresh)
	}
}

func TestIntervalBoundsProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for i := 0; i < 200000; i++ {
		checkInterval(t, randomRun(rng))
	}
}

func FuzzInterval(f *testing.F) {
	f.Add(int64(time.Second), true, uint64(50<<20), uint64(49<<20), 1e-300, uint64(0))
	f.Add(int64(time.Second), false, uint64(1<<40), uint64(0), 1e-9, uint64(0))
	f.Add(int64(1), false, uint64(10), uint64(11), 0.0, uint64(11))
	f.Fuzz(func(t *testing.T, freq int64, soft bool, threshold, usage uint64, rate float64, stuck uint64) {
		if freq <= 0 || math.IsNaN(rate) || rate < 0 {
			t.Skip("the loop never holds these: frequency is checked, rate is a max with 0")
		}
		r := &run{freq: time.Duration(freq), softLimit: soft, threshold: threshold, lastUsage: usage, rate: rate, stuck: backOff{at: stuck}}
		checkInterval(t, r)
		// The same state while a crossing waits for the runtime's GC, with
		// the hold's end and ceiling drawn from the other inputs.
		r.held = hold{until: Clock.Now().Add(time.Duration(int64(stuck))), ceiling: threshold ^ usage}
		checkInterval(t, r)
	})
}

// A test written like v1.3.0's: a mock clock advanced by the frequency takes
// about one sample, not a replay of every 100 ms the mock skipped over.
func TestMockClockJumpTakesOneSample(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	sampleGap = minInterval // the real pacing, as a program's tests see it
	h.start(NewWatermarkPolicy(0.5, 0.9), 5*time.Second)
	h.wait()
	for i := 1; i <= 3; i++ {
		h.clock.Add(5 * time.Second)
		h.wait() // the loop re-armed after its sample
		assert.Equal(t, uint64(i), Snapshot().Samples, "one sample per Add(5s)")
	}
}
