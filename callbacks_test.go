package watchdog

// Callbacks are untrusted: policies, notifees, ForcedGCFunc and the Logger
// may panic, block or stop the watchdog, and the watchdog stays safe.

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor receives from c or fails the test after testTimeout.
func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// afterStop is what a callback saw right after calling stop.
type afterStop struct {
	running bool
	limit   int64
}

func TestStopFromPostGCNotifee(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	h.wait()
	seen := make(chan afterStop, 1)
	t.Cleanup(RegisterPostGCNotifee(func() {
		h.stop() // from inside the callback: must return
		seen <- afterStop{Snapshot().Running, setMemoryLimit(-1)}
	}))
	h.gc <- struct{}{}
	got := waitFor(t, seen, "the notifee's stop to return")
	assert.False(t, got.running, "the run ended as stop returned")
	assert.Equal(t, int64(math.MaxInt64), got.limit, "the soft limit was restored before stop returned")

	// The slot is free at once: a new watchdog starts.
	err, stop := startPolled(currentConfig(), "system", UtilizationSystem, newFakeSource(100*mib, 0), NewWatermarkPolicy(0.5), 100*mib, time.Second, false)
	require.NoError(t, err)
	h.wait()
	assert.True(t, Snapshot().Running)
	stop()
}

func TestStopFromPolicyAndForcedGCFunc(t *testing.T) {
	for _, where := range []string{"policy", "ForcedGCFunc", "pre-GC notifee"} {
		t.Run(where, func(t *testing.T) {
			h := newHarness(t, 100*mib, 10*mib)
			seen := make(chan afterStop, 1)
			stopHere := func() {
				h.stop()
				seen <- afterStop{running: Snapshot().Running}
			}
			evals := 0
			ctor := func(uint64) (Policy, error) {
				return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
					if evals++; where == "policy" && evals == 2 {
						stopHere()
					}
					return 50 * mib
				}), nil
			}
			switch where {
			case "ForcedGCFunc":
				h.afterForcedGC = stopHere
			case "pre-GC notifee":
				t.Cleanup(RegisterPreGCNotifee(stopHere))
			}
			h.start(ctor, time.Second)
			d := h.wait()
			if where == "policy" {
				h.setRuntime(func(s *runtimeStats) { s.GCCycles++ })
				h.gc <- struct{}{} // the second evaluation stops
			} else {
				h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
				h.clock.Add(d) // crosses the threshold: a forced GC
			}
			got := waitFor(t, seen, "stop to return inside "+where)
			assert.False(t, got.running)
			select {
			case <-h.waits:
				t.Fatal("the loop went on after stop")
			default:
			}
		})
	}
}

func TestPanickingCallbacksAreRecovered(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	t.Cleanup(RegisterPreGCNotifee(func() { panic("pre-GC notifee exploded") }))
	post := make(chan struct{}, 10)
	t.Cleanup(RegisterPostGCNotifee(func() { panic("post-GC notifee exploded") }))
	t.Cleanup(RegisterPostGCNotifee(func() { post <- struct{}{} }))
	h.afterForcedGC = func() { panic("ForcedGCFunc exploded") }
	h.start(NewAdaptivePolicy(0.5), time.Second)
	d := h.wait()

	for i := 1; i <= 2; i++ {
		h.src.set(func(f *fakeSource) { f.usage += 60 * mib })
		h.tick(d)
		assert.Equal(t, i, h.forced, "a GC is forced at each crossing, panics or not")
		d = h.gcEnded()
		waitFor(t, post, "the notifee after the one that panicked")
	}
	assert.True(t, Snapshot().Running)
	assert.Equal(t, uint64(6), Snapshot().CallbackPanics, "pre, ForcedGCFunc and post, twice")
	for _, what := range []string{"pre-GC notifee exploded", "ForcedGCFunc exploded", "post-GC notifee exploded"} {
		assert.Len(t, h.log.find("ERROR", what, "recovered"), 1, "%s: reported once a minute, not at every panic", what)
	}
}

func TestBlockedCallbacksDoNotDisarm(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	saved := callbackBudget
	callbackBudget = 50 * time.Millisecond
	t.Cleanup(func() { callbackBudget = saved })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	blocked := make(chan struct{}, 1)
	t.Cleanup(RegisterPostGCNotifee(func() {
		select {
		case blocked <- struct{}{}:
		default:
		}
		<-release // blocks until the test ends
	}))
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	h.wait()
	h.gc <- struct{}{}
	waitFor(t, blocked, "the notifee to block")
	d := h.wait()

	// The blocked notifee holds up neither samples nor forced GCs.
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.tick(d)
	assert.Equal(t, 1, h.forced)

	// Stop returns while the notifee is still blocked.
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	waitFor(t, stopped, "stop with a blocked notifee")
	assert.False(t, Snapshot().Running)
}

func TestBlockedPolicyKeepsThresholdAndStops(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	saved := callbackBudget
	callbackBudget = 20 * time.Millisecond
	t.Cleanup(func() { callbackBudget = saved })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	evals := 0
	ctor := func(uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
			if evals++; evals == 2 {
				<-release
			}
			return 50 * mib
		}), nil
	}
	h.start(ctor, time.Second)
	h.wait()
	d := h.gcEnded() // the second evaluation blocks past its budget
	assert.NotEmpty(t, h.log.find("WARN", "the policy did not return within", "keeping the threshold 50.0 MiB"))
	before := len(h.softLimits())
	h.src.set(func(f *fakeSource) { f.usage = 40 * mib })
	h.tick(d)
	assert.Greater(t, len(h.softLimits()), before, "the soft limit is still managed")
	assert.Equal(t, uint64(50*mib), Snapshot().Threshold)
}

func TestPanickingLoggerIsContained(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	SetLogger(panicLogger{})
	h.setRuntime(func(s *runtimeStats) { s.Owned = 10 * mib })
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.tick(d)
	assert.Equal(t, 1, h.forced, "the watchdog works with a Logger that panics")
	assert.NotZero(t, Snapshot().CallbackPanics)
	h.stop()
	limits := h.softLimits()
	assert.Equal(t, int64(math.MaxInt64), limits[len(limits)-1], "the soft limit is restored")
}

type panicLogger struct{}

func (panicLogger) Debugf(string, ...interface{}) { panic("logger exploded") }
func (panicLogger) Infof(string, ...interface{})  { panic("logger exploded") }
func (panicLogger) Warnf(string, ...interface{})  { panic("logger exploded") }
func (panicLogger) Errorf(string, ...interface{}) { panic("logger exploded") }

func TestNilLoggerMeansTheDefault(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	var buf bytes.Buffer
	saved := defaultLogger.std
	defaultLogger.std = newStdLogger(&buf)
	t.Cleanup(func() { defaultLogger.std = saved })
	SetLogger(nil)
	h.start(NewWatermarkPolicy(0.5), time.Second)
	h.wait()
	h.stop()
	assert.Contains(t, buf.String(), "[watchdog] INFO cgroup watchdog started")
}
