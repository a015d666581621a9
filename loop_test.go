package watchdog

// Tests of the issue-5 behaviour of the shared loop: adaptive sampling,
// kernel events, dynamic limits, the headroom soft limit and heap profiles,
// against the fake source and mock clock of harness_test.go.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdaptiveSamplingSpeedsUpNearThreshold(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	require.Equal(t, time.Second, d)

	h.src.set(func(f *fakeSource) { f.usage = 12 * mib }) // slow growth: 2 MiB/s, far away
	d = h.tick(d)
	assert.Equal(t, time.Second, d)

	h.src.set(func(f *fakeSource) { f.usage = 40 * mib }) // 28 MiB/s, 10 MiB to go: ETA ~0.36 s
	d = h.tick(d)
	assert.Less(t, d, 250*time.Millisecond, "a fast burst towards the threshold shortens the wait")
	assert.GreaterOrEqual(t, d, minInterval)

	h.src.set(func(f *fakeSource) { f.usage = 49*mib + 900*1024 })
	d = h.tick(d)
	assert.Equal(t, minInterval, d, "right under the threshold the loop polls at the floor")
}

func TestSamplingNeverSlowerThanFrequency(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.95), 20*time.Millisecond)
	d := h.wait()
	for i := 0; i < 3; i++ {
		assert.LessOrEqual(t, d, 20*time.Millisecond)
		d = h.tick(d)
	}
}

func TestEventWakesLoopWithoutTick(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Hour)
	h.wait()
	h.src.mu.Lock()
	armed := append([]uint64(nil), h.src.armed...)
	h.src.mu.Unlock()
	assert.Equal(t, []uint64{50 * mib}, armed, "the kernel event is armed at the threshold")
	h.gcEnded()
	h.src.mu.Lock()
	assert.Len(t, h.src.armed, 1, "an unchanged threshold is not re-armed")
	h.src.mu.Unlock()

	h.src.set(func(f *fakeSource) { f.usage = 70 * mib })
	h.src.events <- struct{}{}
	h.wait()
	assert.Equal(t, 1, h.forced, "the event led to a sample and a forced GC with no clock advance")
	assert.Equal(t, uint64(1), Snapshot().Events)
}

func TestKernelEventsOptOut(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit, KernelEvents = false, false
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 70 * mib })
	h.src.events <- struct{}{} // ignored: the loop does not listen
	h.tick(d)
	h.src.mu.Lock()
	assert.Empty(t, h.src.armed, "no kernel event is armed")
	h.src.mu.Unlock()
	assert.Equal(t, 1, h.forced, "the poll found the crossing")
	assert.Zero(t, Snapshot().Events)
}

func TestDynamicLimitRebuildsPolicy(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	var limits []uint64
	ctor := func(limit uint64) (Policy, error) {
		limits = append(limits, limit)
		return NewWatermarkPolicy(0.5)(limit)
	}
	h.start(ctor, time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.limit = 200 * mib })
	for i := 0; i < 5; i++ {
		d = h.tick(d)
	}
	assert.Equal(t, []uint64{100 * mib, 200 * mib}, limits, "the policy is rebuilt for the new limit")
	assert.Equal(t, uint64(100*mib), Snapshot().Threshold)
	assert.NotEmpty(t, h.log.find("INFO", "changed from 100.0 MiB (104857600 bytes) to 200.0 MiB (209715200 bytes)"))
	assert.NotEmpty(t, h.log.find("INFO", "policy rebuilt for the limit 200.0 MiB"))
}

func TestSoftLimitTracksHeadroom(t *testing.T) {
	h := newHarness(t, 1000*mib, 300*mib)
	h.setRuntime(func(s *runtimeStats) { s.Owned = 100 * mib }) // 200 MiB outside the Go runtime
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	want := int64(950*mib - 200*mib)
	assert.Equal(t, []int64{want}, h.softLimits(), "set at start: the limit less a 5%% reserve less memory outside the runtime")

	h.src.set(func(f *fakeSource) { f.usage = 600 * mib }) // an mmap burst: 500 MiB outside
	h.tick(d)
	assert.Equal(t, int64(950*mib-500*mib), h.softLimits()[1])
	assert.Equal(t, int64(950*mib-500*mib), Snapshot().SoftLimit)

	h.stop()
	limits := h.softLimits()
	assert.Equal(t, int64(1<<63-1), limits[len(limits)-1], "stop restores the soft limit in force at start")
}

// Charge the kernel frees before any OOM kill (clean cache; freed parts of
// huge pages awaiting a split, which move as fast as the heap allocates) is
// re-read at every soft-limit refresh, far from the threshold too, so the
// soft limit does not drop for it even for the second the figure is
// otherwise cached.
func TestSoftLimitRereadsReclaimableAtEveryRefresh(t *testing.T) {
	h := newHarness(t, 1000*mib, 300*mib)
	h.setRuntime(func(s *runtimeStats) { s.Owned = 100 * mib })
	h.start(NewWatermarkPolicy(0.9), time.Second)
	d := h.wait()
	require.Equal(t, []int64{950*mib - 200*mib}, h.softLimits())

	// The runtime releases 60 MiB of huge-page heap: the kernel keeps it
	// charged (usage unchanged) while it no longer counts as owned.
	h.setRuntime(func(s *runtimeStats) { s.Owned = 40 * mib })
	h.src.set(func(f *fakeSource) { f.reclaimable = 60 * mib })
	h.tick(d)
	assert.Equal(t, []int64{950*mib - 200*mib}, h.softLimits(),
		"still 200 MiB outside the runtime: usage less reclaimable less owned")
	h.stop()
}

func TestSoftLimitNeverAboveUsersAndFloored(t *testing.T) {
	h := newHarness(t, 1000*mib, 100*mib)
	setMemoryLimit(300 * mib) // the user's GOMEMLIMIT
	h.limits = nil
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	assert.Equal(t, []int64{300 * mib}, h.softLimits(), "never above the user's soft limit")
	h.setRuntime(func(s *runtimeStats) {
		s.HeapLive, s.HeapObjects, s.Owned, s.NonHeap, s.GCCycles = 50*mib, 50*mib, 60*mib, 10*mib, 1
	})
	h.src.set(func(f *fakeSource) { f.usage = 1020 * mib }) // over the limit: another process holds it
	h.tick(d)
	assert.Equal(t, []int64{300 * mib, 300 * mib}, h.softLimits(), "outside memory ate the room the heap needs: back to the user's value")
	assert.True(t, Snapshot().BeyondGC)
	assert.Zero(t, Snapshot().SoftLimit)
	assert.NotEmpty(t, h.log.find("WARN", "GC cannot make room"))
	h.stop()
	assert.Len(t, h.softLimits(), 2, "nothing of the watchdog's to restore")
}

func TestSoftLimitReserve(t *testing.T) {
	for _, c := range []struct{ limit, want uint64 }{
		{64 * mib, 8 * mib},         // limit/8: small containers keep an eighth
		{96 * mib, 12 * mib},        // limit/8
		{256 * mib, 16 * mib},       // 16 MiB cap on the small-container rule
		{1000 * mib, 50 * mib},      // 5%
		{16 << 30, (16 << 30) / 20}, // 5%
	} {
		assert.Equal(t, c.want, softLimitReserve(c.limit), "limit %d", c.limit)
	}
}

func TestHeapProfileCapturedByTheLoop(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	dir := filepath.Join(t.TempDir(), "profiles")
	savedDir, savedThreshold := HeapProfileDir, HeapProfileThreshold
	t.Cleanup(func() { HeapProfileDir, HeapProfileThreshold = savedDir, savedThreshold })
	HeapProfileDir, HeapProfileThreshold = dir, 0.6

	h.start(NewWatermarkPolicy(0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 70 * mib }) // 70% >= 60%: an episode starts
	from := time.Now()
	d = h.tick(d)
	to := time.Now()
	h.tick(d) // still above: same episode
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 1, "one profile per episode")
	// Named after the real time of the capture, not the mock Clock.
	requireProfileName(t, files[0].Name(), time.Local, from, to)
	assert.NotEmpty(t, h.log.find("INFO", "heap profile written", "73400320 bytes"))
}

func TestFrequentGCsDoNotStarvePolling(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	HeadroomSoftLimit = false
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	require.Equal(t, time.Second, h.wait())

	h.clock.Add(400 * time.Millisecond)
	assert.Equal(t, 600*time.Millisecond, h.gcEnded(), "a GC does not restart the poll interval")
	h.clock.Add(400 * time.Millisecond)
	assert.Equal(t, 200*time.Millisecond, h.gcEnded())
	assert.Zero(t, Snapshot().Samples)
	h.tick(200 * time.Millisecond)
	assert.Equal(t, uint64(1), Snapshot().Samples, "the poll came on time")
}
