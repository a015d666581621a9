package watchdog

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

func TestPolledForcesGCAtThreshold(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	var pre, post int
	t.Cleanup(RegisterPreGCNotifee(func() { pre++ }))
	t.Cleanup(RegisterPostGCNotifee(func() { post++ }))
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)

	d := h.wait()
	assert.Equal(t, time.Second, d, "far from the threshold the loop polls at the user's frequency")
	assert.Equal(t, uint64(50*mib), Snapshot().Threshold)

	h.src.set(func(f *fakeSource) { f.usage = 49 * mib })
	d = h.tick(d)
	assert.Equal(t, 0, h.forced, "49 MiB is below the 50 MiB threshold")

	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.afterForcedGC = func() { h.src.set(func(f *fakeSource) { f.usage = 55 * mib }) }
	h.tick(d)
	assert.Equal(t, 1, h.forced, "60 MiB crossed the 50 MiB threshold")
	assert.Equal(t, 1, pre, "pre-GC notifees run before a forced GC")
	assert.Equal(t, uint64(90*mib), Snapshot().Threshold, "after the GC 55 MiB is used: next watermark is 90 MiB")

	h.gcEnded()
	assert.Equal(t, 1, post, "post-GC notifees run once per observed GC")
	s := Snapshot()
	assert.Equal(t, uint64(1), s.ForcedGCs)
	assert.Equal(t, uint64(55*mib), s.Usage)
	assert.True(t, s.Running)
	assert.Equal(t, "cgroup", s.Driver)
	assert.NotEmpty(t, h.log.find("WARN", "forcing GC", "60.0 MiB (62914560 bytes)", "50.0 MiB (52428800 bytes)"),
		"the log states usage and threshold, at v1.3.0's level for a forced GC")
}

func TestPolledThresholdRecomputedAfterRuntimeGC(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	var seen []uint64
	ctor := func(limit uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
			seen = append(seen, used)
			return used + 10*mib
		}), nil
	}
	h.start(ctor, time.Second)
	h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 30 * mib })
	h.gcEnded()
	assert.Equal(t, []uint64{10 * mib, 30 * mib}, seen, "evaluated at start and after the runtime's GC")
	assert.Equal(t, uint64(40*mib), Snapshot().Threshold)
	assert.Equal(t, 0, h.forced)
}

func TestPolledWorkingSetExcludesInactiveFileCache(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage, f.reclaimable = 80*mib, 40*mib })
	h.tick(d)
	assert.Equal(t, 0, h.forced, "80 MiB raw with 40 MiB inactive file cache is a 40 MiB working set")
	assert.Equal(t, uint64(40*mib), Snapshot().Usage)
}

func TestPolledReadsStatOnlyWhenNeeded(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5, 0.9), 100*time.Millisecond)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.reclaimCall = 0 })
	for i := 0; i < 5; i++ {
		d = h.tick(d)
	}
	h.src.mu.Lock()
	calls := h.src.reclaimCall
	h.src.mu.Unlock()
	assert.Equal(t, 0, calls, "far from the threshold and within a second, memory.stat is not read")
	h.src.set(func(f *fakeSource) { f.usage = 48 * mib })
	h.tick(d)
	h.src.mu.Lock()
	calls = h.src.reclaimCall
	h.src.mu.Unlock()
	assert.Equal(t, 1, calls, "near the threshold, the cache figure is refreshed")
}

func TestReadErrorsAreLoggedOnceAndCounted(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usageErr = errBoom })
	d = h.tick(d)
	d = h.tick(d)
	assert.Len(t, h.log.find("WARN", "boom"), 1, "a streak of errors is logged once")
	assert.Equal(t, uint64(2), Snapshot().ReadErrors)
	h.src.set(func(f *fakeSource) { f.usageErr = nil })
	h.tick(d)
	assert.Len(t, h.log.find("INFO", "works again"), 1)
	assert.True(t, Snapshot().Running)
}

func TestPanicsAreRecoveredAndWatchingGoesOn(t *testing.T) {
	for name, arm := range map[string]func(h *harness) PolicyCtor{
		"policy": func(h *harness) PolicyCtor {
			calls := 0
			return func(uint64) (Policy, error) {
				return PolicyFunc(func(UtilizationType, uint64) uint64 {
					if calls++; calls == 2 {
						panic("policy exploded")
					}
					return 50 * mib
				}), nil
			}
		},
		"source": func(h *harness) PolicyCtor {
			h.src.set(func(f *fakeSource) { f.usagePanic = true })
			return NewWatermarkPolicy(0.5)
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 100*mib, 10*mib)
			ctor := NewWatermarkPolicy(0.5)
			if name == "policy" {
				ctor = arm(h)
			}
			h.start(ctor, time.Second)
			d := h.wait()
			if name == "source" {
				arm(h)
				d = h.tick(d) // the next sample reads the source
				assert.NotEmpty(t, h.log.find("WARN", "reading usage", "exploded"))
				assert.Equal(t, uint64(1), Snapshot().ReadErrors)
				h.src.set(func(f *fakeSource) { f.usagePanic = false })
			} else {
				h.gcEnded() // the next GC evaluates the policy, which panics
				assert.NotEmpty(t, h.log.find("ERROR", "policy panicked", "exploded"))
				assert.NotEmpty(t, h.log.find("WARN", "keeping the threshold 50.0 MiB"))
				assert.Equal(t, uint64(1), Snapshot().CallbackPanics)
			}
			assert.True(t, Snapshot().Running, "the watchdog keeps watching")
			h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
			h.tick(d)
			assert.Equal(t, 1, h.forced, "and still forces GC at the threshold")
		})
	}
}

func TestSingletonAndIdempotentStop(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5), time.Second)
	h.wait()

	err, stop := startPolled(currentConfig(), "cgroup", UtilizationProcess, newFakeSource(100*mib, 0), NewWatermarkPolicy(0.5), 100*mib, time.Second, false)
	assert.ErrorIs(t, err, ErrAlreadyStarted)
	assert.Nil(t, stop)

	first := h.stop
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); first() }()
	}
	wg.Wait()
	assert.False(t, Snapshot().Running)

	// A new watchdog starts; the old stopFn must not stop it.
	src2 := newFakeSource(100*mib, 0)
	err, stop2 := startPolled(currentConfig(), "system", UtilizationSystem, src2, NewWatermarkPolicy(0.5), 100*mib, time.Second, false)
	require.NoError(t, err)
	h.wait()
	first()
	assert.True(t, Snapshot().Running, "a stale stopFn leaves the new watchdog alone")
	assert.Equal(t, "system", Snapshot().Driver)
	stop2()
	assert.False(t, Snapshot().Running)
}

func TestStartArgumentErrors(t *testing.T) {
	bad := func(uint64) (Policy, error) { return nil, errBoom }
	cases := map[string]struct {
		run  func() (error, func())
		want string
	}{
		"system zero frequency": {func() (error, func()) { return SystemDriven(0, 0, NewWatermarkPolicy(0.5)) }, "frequency 0s must be positive"},
		"system negative":       {func() (error, func()) { return SystemDriven(0, -time.Second, NewWatermarkPolicy(0.5)) }, "frequency -1s"},
		"system nil policy":     {func() (error, func()) { return SystemDriven(0, time.Second, nil) }, "policy constructor is nil"},
		"system ctor error":     {func() (error, func()) { return SystemDriven(100, time.Second, bad) }, "boom"},
		"cgroup zero frequency": {func() (error, func()) { return CgroupDriven(0, NewWatermarkPolicy(0.5)) }, "frequency 0s"},
		"cgroup nil policy":     {func() (error, func()) { return CgroupDriven(time.Second, nil) }, "policy constructor is nil"},
		"heap zero limit":       {func() (error, func()) { return HeapDriven(0, 50, NewWatermarkPolicy(0.5)) }, "heap limit is 0 bytes"},
		"heap negative minGOGC": {func() (error, func()) { return HeapDriven(100, -1, NewWatermarkPolicy(0.5)) }, "minGOGC -1 is negative"},
		"heap ctor panic":       {func() (error, func()) { return HeapDriven(100, 50, panicCtor) }, "policy constructor panicked"},
		"system first eval panic": {func() (error, func()) {
			return SystemDriven(100, time.Second, func(uint64) (Policy, error) { return panicPolicy{}, nil })
		}, "the policy failed its first evaluation"},
		"heap ctor error":        {func() (error, func()) { return HeapDriven(100, 50, bad) }, "boom"},
		"heap bad watermark":     {func() (error, func()) { return HeapDriven(100, 50, NewWatermarkPolicy(1.5)) }, "1.5"},
		"system policy nil ctor": {func() (error, func()) { return SystemDriven(100, time.Second, nilPolicy) }, "nil policy"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err, stop := c.run()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Nil(t, stop)
			assert.False(t, Snapshot().Running, "nothing started")
		})
	}
	err, _ := HeapDriven(100, 50, bad)
	assert.ErrorIs(t, err, errBoom, "the constructor's error is wrapped")
}

func nilPolicy(uint64) (Policy, error) { return nil, nil }

func panicCtor(uint64) (Policy, error) { panic("ctor exploded") }

type panicPolicy struct{}

func (panicPolicy) Evaluate(UtilizationType, uint64) uint64 { panic("policy exploded") }

func TestPolicyMayCallSnapshot(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	var seen []Stats
	ctor := func(limit uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
			seen = append(seen, Snapshot()) // must not deadlock, at start either
			return used + 10*mib
		}), nil
	}
	h.start(ctor, time.Second)
	h.wait()
	h.gcEnded()
	require.Len(t, seen, 2)
	assert.True(t, seen[0].Running)
	assert.Equal(t, uint64(100*mib), seen[1].Limit)
}

func TestFirstEvaluationErrorSaysWhy(t *testing.T) {
	err, stop := SystemDriven(100, time.Second, func(uint64) (Policy, error) { return panicPolicy{}, nil })
	require.Error(t, err)
	assert.Nil(t, stop)
	assert.ErrorIs(t, err, errFirstEvaluation)
	assert.Contains(t, err.Error(), "the policy panicked: policy exploded")
}
