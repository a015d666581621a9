package watchdog

// The program's settings win; limits the policy rejects still move the soft
// limit; the start line; one warning per streak.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProgramSoftLimitIsAdoptedAndRestored(t *testing.T) {
	h := newHarness(t, 1000*mib, 100*mib)
	h.setRuntime(func(s *runtimeStats) { s.Owned = 100 * mib })
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	assert.Equal(t, int64(950*mib), Snapshot().SoftLimit)

	setMemoryLimit(256 * mib) // the program lowers it while the watchdog runs
	d = h.tick(d)
	s := Snapshot()
	assert.Equal(t, int64(256*mib), s.UserSoftLimit, "the program's value is the new ceiling")
	assert.LessOrEqual(t, s.SoftLimit, int64(256*mib))
	assert.NotEmpty(t, h.log.find("INFO", "the program changed the Go soft memory limit", "256.0 MiB"))
	for i := 0; i < 5; i++ {
		d = h.tick(d)
		assert.LessOrEqual(t, setMemoryLimit(-1), int64(256*mib), "never raised above the program's value")
	}
	h.stop()
	assert.Equal(t, int64(256*mib), setMemoryLimit(-1), "stop restores the program's latest value, not the one from start")
}

func TestProgramSoftLimitChangeAfterLastSetIsKeptOnStop(t *testing.T) {
	h := newHarness(t, 1000*mib, 100*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	h.wait()
	setMemoryLimit(300 * mib) // after the watchdog's last set, before stop
	h.stop()
	assert.Equal(t, int64(300*mib), setMemoryLimit(-1), "a value the watchdog did not set is the program's, and stays")
}

func TestRejectedLimitStillMovesSoftLimit(t *testing.T) {
	h := newHarness(t, 512*mib, 20*mib)
	var built []uint64
	ctor := func(limit uint64) (Policy, error) {
		if limit < 100*mib {
			return nil, fmt.Errorf("limit %d is too small for this policy", limit)
		}
		built = append(built, limit)
		return NewWatermarkPolicy(0.5, 0.9)(limit)
	}
	h.start(ctor, time.Second)
	d := h.wait()
	require.Greater(t, Snapshot().SoftLimit, int64(400*mib))

	h.src.set(func(f *fakeSource) { f.limit = 64 * mib })
	for elapsed := time.Duration(0); elapsed < 3*limitRefresh; elapsed += d {
		d = h.tick(d)
	}
	s := Snapshot()
	assert.Equal(t, uint64(64*mib), s.Limit, "Snapshot reports the real limit")
	assert.Less(t, s.SoftLimit, int64(64*mib), "the soft limit follows the real limit")
	assert.Equal(t, []uint64{512 * mib}, built, "the old policy stays")
	assert.Len(t, h.log.find("WARN", "keeping the policy built for 512.0 MiB", "too small"), 1,
		"one warning for the rejected limit, not one per refresh")

	h.src.set(func(f *fakeSource) { f.limit = 200 * mib }) // accepted again
	for elapsed := time.Duration(0); elapsed < limitRefresh+d; elapsed += d {
		d = h.tick(d)
	}
	assert.Equal(t, []uint64{512 * mib, 200 * mib}, built)
	assert.Equal(t, uint64(100*mib), Snapshot().Threshold)
}

type flakyReclaim struct {
	*fakeSource
	err error
}

func (f *flakyReclaim) Reclaimable() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return 0, f.err
}

func TestReclaimableFailureLoggedOncePerStreak(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	src := &flakyReclaim{fakeSource: h.src, err: errors.New("stat gone")}
	err, stop := startPolled(currentConfig(), "cgroup", UtilizationProcess, src, NewWatermarkPolicy(0.5), 100*mib, time.Second, true)
	require.NoError(t, err)
	h.stop = stop
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 48 * mib }) // near the threshold: read at every sample
	for i := 0; i < 10; i++ {
		d = h.tick(d)
	}
	assert.Len(t, h.log.find("WARN", "reclaimable", "stat gone"), 1)
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()
	h.tick(d)
	assert.Len(t, h.log.find("INFO", "reclaimable", "works again"), 1)
}

func TestSoftLimitFitsTinyLimits(t *testing.T) {
	// A 4 MiB limit: the soft limit is set under it, not at 4 MiB.
	h := newHarness(t, 4*mib, 3*mib)
	h.setRuntime(func(s *runtimeStats) { s.Owned = 3 * mib })
	h.start(NewWatermarkPolicy(0.9), time.Second)
	h.wait()
	assert.Less(t, Snapshot().SoftLimit, int64(4*mib))
	assert.Positive(t, Snapshot().SoftLimit)
}

func TestStartLineNamesLimitPolicyAndThresholds(t *testing.T) {
	h := newHarness(t, 1000*mib, 10*mib)
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	h.wait()
	lines := h.log.find("INFO", "cgroup watchdog started", "limit 1000.0 MiB (1048576000 bytes)",
		"watermarks [0.5 0.9]", "thresholds [524288000 943718400] bytes", "next GC at 500.0 MiB")
	assert.Len(t, lines, 1, "%v", h.log.lines)
	h.stop()

	h = newHarness(t, 1000*mib, 10*mib)
	h.start(NewAdaptivePolicy(0.5), time.Second)
	h.wait()
	assert.Len(t, h.log.find("INFO", "cgroup watchdog started", "adaptive policy: factor 0.5"), 1)
}
