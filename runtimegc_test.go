package watchdog

// A threshold crossing that the runtime's own next GC answers needs no
// forced GC (runtimegc.go).

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lotus is the watermark policy of the lotus configuration.
var lotus = NewWatermarkPolicy(0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95)

// heapSim drives the harness's simulated runtime: a heap that allocates
// rate bytes per second of mock time, towards a GC goal.
type heapSim struct {
	h    *harness
	rate uint64 // bytes per second
	d    time.Duration
}

// newHeapSim starts a watchdog over a 256 MiB limit at usage 100 MiB, with
// a heap of 95 MiB whose next GC is due at 180 MiB (an 88 MiB live heap
// under GOGC=100), and takes the first two samples below the threshold.
func newHeapSim(t *testing.T, ctor PolicyCtor, rate uint64) *heapSim {
	h := newHarness(t, 256*mib, 100*mib)
	h.setRuntime(func(st *runtimeStats) { st.HeapLive, st.HeapGoal, st.HeapObjects = 88*mib, 180*mib, 95*mib })
	h.start(ctor, time.Second)
	s := &heapSim{h: h, rate: rate, d: h.wait()}
	s.step(110*mib, 105*mib)
	s.step(120*mib, 115*mib)
	require.Zero(t, h.forced)
	return s
}

// step sets usage and the heap, allocates for the interval the loop waits
// for, and lets it take the sample.
func (s *heapSim) step(usage, heap uint64) {
	s.h.src.set(func(f *fakeSource) { f.usage = usage })
	s.h.setRuntime(func(st *runtimeStats) {
		st.HeapObjects = heap
		st.Allocs += uint64(float64(s.rate) * s.d.Seconds())
	})
	s.d = s.h.tick(s.d)
}

// gc simulates the end of the runtime's own GC, after which usage is at
// usage (freed heap pages stay mapped) and the heap is its live part.
func (s *heapSim) gc(usage uint64) {
	s.h.src.set(func(f *fakeSource) { f.usage = usage })
	s.h.setRuntime(func(st *runtimeStats) { st.GCCycles++; st.HeapObjects = st.HeapLive })
	s.d = s.h.gcEnded()
}

// As a heap first grows towards its GOGC goal it crosses the first lotus
// watermark; the runtime's GC, due within 100 ms, comes before usage nears
// the limit, and the policy re-evaluated after it sets a watermark above
// usage. The next watermark crossed goes the same way.
func TestCrossingLeftToTheRuntimesGC(t *testing.T) {
	s := newHeapSim(t, lotus, 600*mib)
	s.step(130*mib, 125*mib) // over 0.5 (128 MiB); the goal is 55 MiB away
	assert.Zero(t, s.h.forced, "the runtime's GC is due in about 90 ms")
	assert.Equal(t, 128*mib, int(Snapshot().Threshold))
	s.step(150*mib, 145*mib)
	s.step(170*mib, 165*mib)
	assert.Zero(t, s.h.forced)

	s.gc(176 * mib)
	st := Snapshot()
	assert.Equal(t, fraction(256*mib, 0.7), st.Threshold)
	assert.Equal(t, uint64(1), st.ForcedGCsAvoided)
	s.step(178*mib, 170*mib)
	s.step(182*mib, 175*mib) // over 0.7 (179.2 MiB)
	s.gc(180 * mib)
	s.step(180*mib, 100*mib)
	assert.Zero(t, s.h.forced)
	st = Snapshot()
	assert.Equal(t, fraction(256*mib, 0.85), st.Threshold)
	assert.Equal(t, uint64(2), st.ForcedGCsAvoided)
}

// A runtime GC after which usage is still at or above the policy's new
// threshold gets a forced GC right after it.
func TestHeldCrossingForcedWhenTheRuntimesGCDoesNotAnswerIt(t *testing.T) {
	// 128 MiB, then 150 MiB once usage is past 128 MiB.
	steps := func(uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
			if used < 128*mib {
				return 128 * mib
			}
			return 150 * mib
		}), nil
	}
	s := newHeapSim(t, steps, 600*mib)
	s.step(130*mib, 170*mib) // the goal is 10 MiB away: due before 150 MiB
	require.Zero(t, s.h.forced)
	s.gc(155 * mib) // usage grew past 150 MiB all the same
	assert.Equal(t, minInterval, s.d, "the next sample comes at the floor")
	s.step(155*mib, 95*mib)
	assert.Equal(t, 1, s.h.forced)
	assert.Zero(t, Snapshot().ForcedGCsAvoided)
}

// A crossing waits at most one polling period for the runtime's GC.
func TestHeldCrossingForcedAfterThePeriod(t *testing.T) {
	s := newHeapSim(t, lotus, 600*mib)
	s.step(130*mib, 125*mib)
	require.Zero(t, s.h.forced)
	held := s.h.clock.Now()
	for s.h.forced == 0 {
		require.Less(t, s.h.clock.Now().Sub(held), 1500*time.Millisecond, "no forced GC after the period")
		s.step(130*mib, 125*mib) // the GC does not come (a stalled program)
	}
	assert.GreaterOrEqual(t, s.h.clock.Now().Sub(held), 900*time.Millisecond, "forced before the period was over")
}

// Memory outside the heap that grows while the crossing waits ends the
// wait once usage plus the heap's way to its goal passes the limit less the
// reserve (256 - 16 MiB).
func TestHeldCrossingForcedWhenUsageGrowsOutsideTheHeap(t *testing.T) {
	s := newHeapSim(t, lotus, 600*mib)
	s.step(130*mib, 125*mib)
	s.step(180*mib, 125*mib) // 180 + 55 MiB: still under 240 MiB
	require.Zero(t, s.h.forced)
	s.step(190*mib, 125*mib) // 190 + 55 MiB
	assert.Equal(t, 1, s.h.forced)
}

// Crossings the runtime's GC would not answer in time force a GC at once.
func TestCrossingForcedAtOnce(t *testing.T) {
	for _, c := range []struct {
		name   string
		ctor   PolicyCtor
		rate   uint64 // heap allocation, bytes per second
		goal   uint64
		usage  uint64
		reason string
	}{
		{"offheap", lotus, 0, 180 * mib, 130 * mib, "usage crossed by memory outside the heap: the heap does not allocate"},
		{"slow", lotus, 20 * mib, 180 * mib, 130 * mib, "the goal is 55 MiB away at 20 MiB/s: more than the period"},
		{"far goal", lotus, 600 * mib, 400 * mib, 130 * mib, "usage plus the way to the goal is past the limit less the reserve"},
		{"near the limit", NewWatermarkPolicy(0.95), 600 * mib, 250 * mib, 244 * mib, "usage is past the limit less the reserve"},
		{"last watermark", NewWatermarkPolicy(0.5), 600 * mib, 180 * mib, 130 * mib, "after a GC the policy would disarm"},
		{"fixed", func(uint64) (Policy, error) {
			return PolicyFunc(func(UtilizationType, uint64) uint64 { return 128 * mib }), nil
		}, 600 * mib, 180 * mib, 130 * mib, "after a GC the policy would set the same threshold"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newHeapSim(t, c.ctor, c.rate)
			s.h.setRuntime(func(st *runtimeStats) { st.HeapGoal = c.goal })
			s.step(c.usage, 125*mib)
			assert.Equal(t, 1, s.h.forced, c.reason)
			assert.Zero(t, Snapshot().ForcedGCsAvoided)
		})
	}
}

// A crossing the back-off holds is not left to the runtime as well: the
// back-off already decides when the next forced GC comes.
func TestBackOffCrossingNotHeld(t *testing.T) {
	s := newHeapSim(t, lotus, 0) // forced at once: the heap does not allocate
	s.step(130*mib, 125*mib)
	require.Equal(t, 1, s.h.forced)
	forcedAt := Snapshot().LastForcedGC
	// The heap allocates now; usage crosses 0.6 (153.6 MiB), too little
	// growth to end the back-off before the period is over.
	s.rate = 600 * mib
	for s.h.forced == 1 {
		require.Less(t, s.h.clock.Now().Sub(forcedAt), 1500*time.Millisecond, "held past the period")
		s.step(160*mib, 125*mib)
	}
	assert.GreaterOrEqual(t, Snapshot().LastForcedGC.Sub(forcedAt), time.Second, "forced within the period")
	assert.Zero(t, Snapshot().ForcedGCsAvoided)
}

// A policy that blocks when asked at a crossing holds the executor: the
// watchdog neither forces a GC (it would not run) nor counts one while the
// policy has not returned.
func TestCrossingWithAPolicyThatBlocksWhenAsked(t *testing.T) {
	saved := callbackBudget
	callbackBudget = 20 * time.Millisecond
	t.Cleanup(func() { callbackBudget = saved })
	release := make(chan struct{})
	blocking := func(uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
			if used >= 128*mib {
				<-release
				return 150 * mib
			}
			return 128 * mib
		}), nil
	}
	s := newHeapSim(t, blocking, 600*mib)
	s.step(130*mib, 125*mib) // the peek blocks past its budget
	s.step(130*mib, 125*mib)
	assert.Zero(t, s.h.forced)
	assert.Zero(t, Snapshot().ForcedGCs, "no forced GC counted while the policy blocks")
	close(release)
}
