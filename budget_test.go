package watchdog

// The watchdog's own work has a budget: forced GCs back off when GC cannot
// help, the sampling interval stays within [minInterval, frequency], and a
// mock clock that jumps replays no burst of samples.

import (
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForcedGCBackOffWhenGCCannotHelp(t *testing.T) {
	h := newHarness(t, 100*mib, 80*mib) // 80 MiB held outside the Go heap
	fixed := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return 50 * mib }), nil
	}
	h.start(fixed, time.Second)
	d := h.wait()
	assert.Equal(t, minInterval, d, "at the threshold already: the crossing is answered at once")
	d = h.tick(d)
	require.Equal(t, 1, h.forced)
	assert.Equal(t, softLimitRefresh, d, "backing off within a quarter of the limit, the loop samples every 100 ms, not at the 10 ms floor")
	// Two seconds of 100 ms samples above a threshold the GC cannot get
	// usage under.
	for i := 0; i < 20; i++ {
		d = h.tick(d)
		assert.Equal(t, softLimitRefresh, d)
	}
	assert.Equal(t, 3, h.forced, "one forced GC per second (the frequency), not one per sample")
	assert.Equal(t, uint64(18), Snapshot().ForcedGCsDeferred)
	assert.Equal(t, uint64(3), Snapshot().GCsIneffective)

	// Usage that grows outside the heap is no reason for another GC.
	h.src.set(func(f *fakeSource) { f.usage += 100 * mib / 16 })
	d = h.tick(d)
	assert.Equal(t, 3, h.forced)
	// A heap that has allocated limit/16 since its last GC is: that much
	// may be garbage.
	h.setRuntime(func(s *runtimeStats) { s.HeapLive, s.HeapObjects = 10*mib, 10*mib+100*mib/16 })
	d = h.tick(d)
	assert.Equal(t, 4, h.forced)

	// Under the threshold again, the back-off is over: the next crossing
	// forces a GC at once.
	h.setRuntime(func(s *runtimeStats) { s.HeapObjects = 10 * mib })
	h.src.set(func(f *fakeSource) { f.usage = 10 * mib })
	d = h.tick(d)
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.tick(d)
	assert.Equal(t, 5, h.forced)
}

// Beyond what GC can help, the soft limit is released and the loop samples
// at its frequency, each sample past the period forcing one GC, as v1.3.0.
func TestBeyondGCSamplesAtTheFrequency(t *testing.T) {
	h := newHarness(t, 100*mib, 120*mib) // above the limit: another process holds it
	h.start(NewAdaptivePolicy(0.5), time.Second)
	d := h.wait()
	d = h.tick(d)
	require.Equal(t, 1, h.forced)
	assert.Equal(t, time.Second, d)
	assert.True(t, Snapshot().BeyondGC)
	for i := 0; i < 3; i++ {
		d = h.tick(d)
	}
	assert.Equal(t, 4, h.forced)
	assert.Equal(t, PressureCritical, Snapshot().Pressure)
}

// v1.3.0's contract: every crossing of a threshold the policy set above
// usage gets its forced GC, with the pre-GC notifees, at the sample that
// sees it, even when the last forced GC freed nothing moments before (as
// when a heap first grows and keeps its freed pages mapped).
func TestEveryWatermarkCrossingForcesAGC(t *testing.T) {
	const limit = 256 * mib
	h := newHarness(t, limit, 100*mib)
	var pre int
	unregister := RegisterPreGCNotifee(func() { pre++ })
	defer unregister()
	h.start(NewWatermarkPolicy(0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95), time.Second)
	d := h.wait()
	for i, to := range []uint64{129 * mib, 154 * mib, 180 * mib, 219 * mib, 231 * mib, 237 * mib, 244 * mib} {
		h.src.set(func(f *fakeSource) { f.usage = to })
		d = h.tick(d)
		require.Equal(t, i+1, h.forced, "crossing %d (usage %d MiB)", i+1, to/mib)
	}
	assert.Equal(t, 7, pre, "the pre-GC notifees ran before every forced GC")
	s := Snapshot()
	assert.Zero(t, s.ForcedGCsDeferred)
	assert.Equal(t, PolicyTempDisabled, s.Threshold, "past the last watermark the policy is disabled")
	assert.Equal(t, uint64(7), s.ThresholdCrossings)
}

// A GC that ended before the sample that sees usage over the threshold
// answered the crossing: the policy is asked first, as after any GC, and
// no GC is forced when usage is under its new threshold.
func TestCrossingAnsweredByTheRuntimesGC(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	var asked []uint64
	ctor := func(limit uint64) (Policy, error) {
		p, err := NewWatermarkPolicy(0.5, 0.6)(limit)
		return PolicyFunc(func(s UtilizationType, used uint64) uint64 {
			asked = append(asked, used)
			return p.Evaluate(s, used)
		}), err
	}
	h.start(ctor, time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 130 * mib })
	h.setRuntime(func(s *runtimeStats) { s.GCCycles++ }) // the runtime collected; its notification is not in yet
	h.tick(d)
	assert.Zero(t, h.forced)
	assert.Equal(t, fraction(256*mib, 0.6), Snapshot().Threshold)
	h.gcNotified() // the notification of that GC: already accounted for
	assert.Equal(t, []uint64{100 * mib, 130 * mib}, asked, "asked at start and once for the GC, not again at its notification")
}

// The policy is asked once per GC: a forced GC is not asked about again
// when the runtime's notification of it arrives.
func TestPolicyAskedOncePerForcedGC(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	var asked int
	ctor := func(limit uint64) (Policy, error) {
		p, err := NewWatermarkPolicy(0.5, 0.6)(limit)
		return PolicyFunc(func(s UtilizationType, used uint64) uint64 {
			asked++
			return p.Evaluate(s, used)
		}), err
	}
	h.afterForcedGC = func() { h.setRuntime(func(s *runtimeStats) { s.GCCycles++ }) }
	h.start(ctor, time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 130 * mib })
	h.tick(d)
	require.Equal(t, 1, h.forced)
	h.gcNotified() // the forced GC's own notification
	assert.Equal(t, 2, asked, "once at start, once after the forced GC")
}

func TestIdleSamplingStaysIdleAfterGrowth(t *testing.T) {
	for _, soft := range []bool{true, false} {
		h := newHarness(t, 1000*mib, 10*mib)
		HeadroomSoftLimit = soft
		h.start(NewWatermarkPolicy(0.9), time.Second)
		d := h.wait()
		for i := 0; i < 3; i++ { // growth far below the threshold
			h.src.set(func(f *fakeSource) { f.usage += 20 * mib })
			d = h.tick(d)
		}
		// Then idle for a long time: the growth estimate decays to zero and
		// the interval goes back to the frequency, never to the floor; far
		// from the limit the soft limit asks for no faster pace.
		for i := 0; i < 200; i++ {
			d = h.tick(d)
			if i >= 40 {
				require.Equal(t, time.Second, d, "sample %d of an idle process (soft limit %v)", i, soft)
			}
		}
		h.stop()
	}
}

// Within a quarter of the limit, or growing towards it, the managed soft
// limit is refreshed every 100 ms.
func TestSoftLimitRefreshedNearTheLimit(t *testing.T) {
	h := newHarness(t, 1000*mib, 100*mib)
	h.start(NewWatermarkPolicy(0.95), time.Second)
	d := h.wait()
	require.Equal(t, time.Second, d)
	h.src.set(func(f *fakeSource) { f.usage = 400 * mib }) // 300 MiB/s towards the limit
	d = h.tick(d)
	assert.Equal(t, time.Second, d, "600 MiB away at 300 MiB/s: half the time to the limit is a second")
	h.src.set(func(f *fakeSource) { f.usage = 800 * mib }) // within a quarter of the limit
	d = h.tick(d)
	assert.LessOrEqual(t, d, softLimitRefresh)
}

// randomRun is a run in a random state, for the interval property.
func randomRun(rng *rand.Rand) *run {
	pick := func(vals ...uint64) uint64 { return vals[rng.Intn(len(vals))] }
	r := &run{
		src:       newFakeSource(1, 1),
		exec:      newInlineExecutor(func(string, any) {}),
		freq:      time.Duration(pick(1, uint64(time.Millisecond), uint64(10*time.Millisecond), uint64(time.Second), uint64(time.Hour), math.MaxInt64)),
		softLimit: rng.Intn(2) == 0,
		beyondGC:  rng.Intn(4) == 0,
		limit:     pick(0, 1, 1<<20, 1<<30, 1<<40, math.MaxUint64, rng.Uint64()),
		threshold: pick(0, 1, 9, 10, 1<<20, 1<<40, math.MaxUint64-1, PolicyTempDisabled, rng.Uint64()),
		usage:     pick(0, 1, 1<<20, 1<<40, math.MaxUint64, rng.Uint64()),
		stuck:     pick(0, 0, 1, rng.Uint64()),
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
		t.Fatalf("interval %v outside [%v, %v] for freq %v soft %v limit %d threshold %d usage %d rate %g stuck %d",
			d, minInterval, upper, r.freq, r.softLimit, r.limit, r.threshold, r.usage, r.rate, r.stuck)
	}
	if r.softLimit && !r.beyondGC && r.limit != 0 && r.usage >= r.limit-r.limit/4 && d > max(softLimitRefresh, minInterval) {
		t.Fatalf("interval %v above %v while the soft limit is managed within a quarter of the limit: limit %d usage %d", d, softLimitRefresh, r.limit, r.usage)
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
		r := &run{src: newFakeSource(1, 1), exec: newInlineExecutor(func(string, any) {}),
			freq: time.Duration(freq), softLimit: soft, limit: threshold ^ usage, threshold: threshold, usage: usage, rate: rate, stuck: stuck}
		checkInterval(t, r)
	})
}

// A test written like v1.3.0's: a mock clock advanced by the frequency takes
// one sample, not a replay of every 100 ms the mock skipped over. Usage
// within a quarter of the limit keeps the loop's interval at
// softLimitRefresh, so each Add(5s) jumps over 50 of its intervals.
//
// The jump is atomic (jumpClock): clock.Mock's Add fires due timers one by
// one with a 1 ms real sleep after each, and under CPU load that sleep can
// outlast the loop's 10 ms real gap, so the loop re-arms in the middle of
// the Add, at a mock time the rest of the Add passes, and takes a second
// sample (about 5% of runs beside two busy loops). A resumed VM's clock,
// the case the gap is for, jumps at once.
func TestMockClockJumpTakesOneSample(t *testing.T) {
	h := newHarness(t, 100*mib, 80*mib)
	clk := &jumpClock{Mock: h.clock}
	Clock = clk             // restored by the harness
	sampleGap = minInterval // the real pacing, as a program's tests see it
	h.start(NewWatermarkPolicy(0.5, 0.9), 5*time.Second)
	require.Equal(t, softLimitRefresh, h.wait(), "the loop samples every 100 ms this close to the limit")
	for i := 1; i <= 3; i++ {
		clk.Add(5 * time.Second)
		d := h.wait() // the loop re-armed after its sample
		assert.Equal(t, uint64(i), Snapshot().Samples, "one sample per Add(5s)")
		assert.Equal(t, softLimitRefresh, d, "re-armed from the new time, with no catch-up")
	}
}

// jumpClock is a clock.Mock whose Add is atomic to the watchdog: Now and
// new timers wait until an Add has finished, so the loop never sees, or
// arms a timer at, a time part-way through a jump.
type jumpClock struct {
	*clock.Mock
	mu sync.RWMutex
}

func (c *jumpClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Mock.Add(d)
}

func (c *jumpClock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.Mock.Now()
}

func (c *jumpClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *jumpClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }

func (c *jumpClock) Timer(d time.Duration) *clock.Timer {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.Mock.Timer(d)
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time { return c.Timer(d).C }

func (c *jumpClock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.Mock.AfterFunc(d, f)
}

func (c *jumpClock) Ticker(d time.Duration) *clock.Ticker {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.Mock.Ticker(d)
}
