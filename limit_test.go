package watchdog

// Limits that change, vanish or shrink while a watchdog runs, against the
// fake source and mock clock of harness_test.go.

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refresh advances the mock clock past the next limit refresh.
func (h *harness) refresh(d time.Duration) time.Duration {
	for elapsed := time.Duration(0); elapsed <= limitRefresh; elapsed += d {
		d = h.tick(d)
	}
	return d
}

// A limit cut from 1 GiB to 48 MiB binds at once: the soft limit follows it
// down in the same sample; a reserve held from the old limit cannot push it
// through zero to "no limit".
func TestLimitCutFollowedAtOnce(t *testing.T) {
	h := newHarness(t, 1<<30, 30*mib)
	h.setRuntime(func(s *runtimeStats) {
		s.HeapLive, s.HeapObjects, s.Owned, s.NonHeap, s.GCCycles = 26*mib, 28*mib, 30*mib, 2*mib, 1
	})
	h.start(NewWatermarkPolicy(0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95), time.Second)
	d := h.wait()
	require.Greater(t, Snapshot().SoftLimit, int64(900*mib))
	h.src.set(func(f *fakeSource) { f.limit = 48 * mib })
	h.refresh(d)
	s := Snapshot()
	assert.Equal(t, uint64(48*mib), s.Limit)
	assert.Positive(t, s.SoftLimit)
	assert.LessOrEqual(t, s.SoftLimit, int64(48*mib-softLimitReserve(48*mib)), "the soft limit is under the new limit less its reserve")
	assert.GreaterOrEqual(t, s.SoftLimit, int64(28*mib), "and not under what a GC can reach")
	assert.LessOrEqual(t, s.Reserve, uint64(24*mib), "the reserve is bounded by the new limit")
	assert.Equal(t, uint64(1), s.LimitChanges)
	assert.False(t, s.BeyondGC)
	assert.NotEmpty(t, h.log.find("INFO", "changed from 1.0 GiB", "to 48.0 MiB"))
}

// A limit removed (systemctl set-property MemoryMax=infinity, docker update
// -m -1, a move to an unlimited group) is followed: no forced GC, the soft
// limit back to the program's, one warning; a limit set again is followed
// too.
func TestLimitRemovedIdlesUntilOneReturns(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	require.NotZero(t, Snapshot().SoftLimit)
	h.src.set(func(f *fakeSource) { f.limitErr = fmt.Errorf("fake: %w", ErrNoCgroupLimit) })
	d = h.refresh(d)
	s := Snapshot()
	assert.Zero(t, s.Limit, "no limit")
	assert.Equal(t, PolicyTempDisabled, s.Threshold)
	assert.Zero(t, s.SoftLimit, "the soft limit is the program's again")
	assert.Equal(t, int64(math.MaxInt64), h.softLimits()[len(h.softLimits())-1])
	h.src.set(func(f *fakeSource) { f.usage = 300 * mib }) // over the old limit: no GC to force
	d = h.refresh(d)
	d = h.refresh(d)
	assert.Zero(t, h.forced)
	assert.Len(t, h.log.find("WARN", "has no memory limit any more"), 1, "said once")
	assert.Empty(t, h.log.find("WARN", "keeping"), "the old limit is not kept")
	assert.Equal(t, time.Second, d, "idle at the frequency")

	h.src.set(func(f *fakeSource) { f.limitErr, f.limit, f.usage = nil, 512*mib, 100*mib })
	h.refresh(d)
	s = Snapshot()
	assert.Equal(t, uint64(512*mib), s.Limit)
	assert.Equal(t, uint64(256*mib), s.Threshold, "the policy is rebuilt for the new limit")
	assert.NotZero(t, s.SoftLimit)
}

// An unreadable limit (a garbage file) keeps the last one, with one warning
// per streak.
func TestUnreadableLimitWarnedOncePerStreak(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.limitErr = fmt.Errorf(`memory.max: value "lots" is not "max" or a byte count`) })
	for i := 0; i < 3; i++ {
		d = h.refresh(d)
	}
	assert.Len(t, h.log.find("WARN", "re-reading the limit", `"lots"`, "keeping 256.0 MiB"), 1)
	assert.Equal(t, uint64(256*mib), Snapshot().Limit)
	h.src.set(func(f *fakeSource) { f.limitErr = nil })
	d = h.refresh(d)
	assert.Len(t, h.log.find("INFO", "reads again"), 1)
	h.src.set(func(f *fakeSource) { f.limitErr = fmt.Errorf("garbage") })
	h.refresh(d)
	assert.Len(t, h.log.find("WARN", "re-reading the limit"), 2, "a new streak warns again")
}

// A limit of 0 bytes (cgroup v2 memory.max 0) is followed as the smallest
// limit there is, without a wrap anywhere.
func TestZeroLimitIsFollowedWithoutOverflow(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	h.start(NewAdaptivePolicy(0.5), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.limit = 0 })
	h.refresh(d)
	s := Snapshot()
	assert.Equal(t, uint64(1), s.Limit)
	assert.True(t, s.BeyondGC)
	assert.Zero(t, s.SoftLimit, "no soft limit of ours: a wrapped one would read as huge")
	assert.Equal(t, PressureCritical, s.Pressure)
	assert.True(t, s.Running)
}

// A usage figure no machine has is a failed read, not memory: it moves
// neither the threshold nor the soft limit.
func TestImplausibleUsageIsAReadError(t *testing.T) {
	h := newHarness(t, 256*mib, 100*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	soft := Snapshot().SoftLimit
	h.src.set(func(f *fakeSource) { f.usage = math.MaxUint64 })
	d = h.tick(d)
	h.tick(d)
	s := Snapshot()
	assert.Equal(t, uint64(2), s.ReadErrors)
	assert.Equal(t, soft, s.SoftLimit)
	assert.Equal(t, uint64(100*mib), s.Usage)
	assert.Zero(t, h.forced)
	assert.Len(t, h.log.find("WARN", "more than 1 EiB"), 1)
	assert.Empty(t, h.log.find("no limit reached"))
}

// A policy's String method is the program's code: it runs with the log line
// on the executor, so one that panics or blocks at a limit change neither
// disarms the watchdog nor stops sampling, and stop returns.
func TestPolicyStringAtLimitChangeIsUntrusted(t *testing.T) {
	for _, mode := range []string{"panics", "blocks"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, 256*mib, 10*mib)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			ctor := func(limit uint64) (Policy, error) {
				return &stringPolicy{limit: limit, mode: mode, release: release}, nil
			}
			h.start(ctor, time.Second)
			d := h.wait()
			h.src.set(func(f *fakeSource) { f.limit = 512 * mib })
			d = h.refresh(d)
			before := Snapshot().Samples
			for i := 0; i < 3; i++ {
				d = h.tick(d)
			}
			s := Snapshot()
			assert.True(t, s.Running)
			assert.Equal(t, before+3, s.Samples, "sampling goes on")
			assert.Equal(t, uint64(512*mib), s.Limit)
			stopped := make(chan struct{})
			go func() { h.stop(); close(stopped) }()
			waitFor(t, stopped, "stop")
		})
	}
}

type stringPolicy struct {
	limit   uint64
	mode    string
	release chan struct{}
}

func (p *stringPolicy) Evaluate(_ UtilizationType, used uint64) uint64 { return p.limit / 2 }

func (p *stringPolicy) String() string {
	if p.limit != 512*mib {
		return "fine"
	}
	if p.mode == "panics" {
		panic("String exploded")
	}
	<-p.release
	return "late"
}
