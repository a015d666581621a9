package watchdog

// Faults the program's side can bring: nil and panicking Loggers on every
// path Start takes, settings changed while a watchdog runs, policies that
// block, GOGC turned off under heap mode, and the allocation-free sample.

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["start-nil-logger"] = childStartNilLogger
	children["heap-gogc-off-later"] = childHeapGOGCOffLater
}

// childStartNilLogger takes every path of Start and of the blank-import
// start with a nil Logger, then with one that panics; a panic would fail
// the child.
func childStartNilLogger() (any, error) {
	steps := 0
	for _, l := range []logger{nil, panicLogger{}} {
		SetLogger(l)
		for _, env := range [][2]string{
			{"GOWATCHDOG", "off"},
			{"GOWATCHDOG", "sideways"},
			{"WATCHDOG_TEST_HEAP", "lots"},
			{"GOWATCHDOG_NOPE", "1"},
			{"", ""},
		} {
			if env[0] != "" {
				os.Setenv(env[0], env[1])
			}
			_, stop, _ := Start(Options{HeapLimitEnv: "WATCHDOG_TEST_HEAP", SystemLimit: 1 << 50, Policy: NewWatermarkPolicy(0.9)})
			stop()
			startFromEnv()
			singleton.mu.Lock()
			r := singleton.cur
			singleton.mu.Unlock()
			if r != nil {
				r.stop()
			}
			_, stop, _ = Start(Options{HeapLimit: 1 << 40})
			stop()
			if env[0] != "" {
				os.Unsetenv(env[0])
			}
			steps++
		}
	}
	return steps, nil
}

func TestStartWithNilOrPanickingLoggerNeverPanics(t *testing.T) {
	var steps int
	runChildTest(t, "start-nil-logger", &steps)
	assert.Equal(t, 10, steps)
}

// SetLogger while a watchdog logs from its goroutines: no data race (this
// test fails under -race if Logger is read unsynchronised).
func TestSetLoggerWhileRunning(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	h.start(NewAdaptivePolicy(0.5), time.Second)
	d := h.wait()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			SetLogger(h.log)
		}
	}()
	for i := 0; i < 5; i++ {
		h.src.set(func(f *fakeSource) { f.usage += 20 * mib })
		d = h.tick(d)
	}
	wg.Wait()
	assert.NotEmpty(t, h.log.find("forcing GC"))
}

// Start's options do not write the package settings a concurrently
// starting driver reads (this test fails under -race if they do).
func TestStartOptionsLeaveSettingsAlone(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, stop, _ := Start(Options{DisableSoftLimit: true, DisableKernelEvents: true, SystemLimit: 1 << 50})
		stop()
	}()
	soft, events := currentConfig().softLimit, currentConfig().events
	_ = HeadroomSoftLimit && KernelEvents // a driver's read of the settings
	wg.Wait()
	assert.True(t, soft && events && HeadroomSoftLimit && KernelEvents)
}

// A policy stuck past its budget at a crossing keeps the loop at its
// frequency, not at the 10 ms floor.
func TestStuckPolicyDoesNotSpinTheLoop(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	saved := callbackBudget
	callbackBudget = 20 * time.Millisecond
	t.Cleanup(func() { callbackBudget = saved })
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	calls := 0
	ctor := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 {
			if calls++; calls == 2 {
				<-release
			}
			return 50 * mib
		}), nil
	}
	h.start(ctor, time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.afterForcedGC = func() { h.setRuntime(func(s *runtimeStats) { s.GCCycles++ }) }
	d = h.tick(d) // forced GC; the policy then blocks past its budget
	require.Equal(t, 1, h.forced)
	for i := 0; i < 5; i++ {
		assert.Equal(t, time.Second, d, "sample %d with the policy stuck", i)
		d = h.tick(d)
	}
	assert.Equal(t, 1, h.forced, "no GC is forced while the policy is stuck")
}

// A sample allocates nothing: with the real clock, over a source that
// allocates nothing, the loop's own work per sample is free of garbage.
func TestSampleAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := newSampleRun(t)
	r.sample()
	w := newWaiter()
	defer w.stop()
	allocs := testing.AllocsPerRun(200, func() {
		r.sample()
		w.tick(time.Hour)
		w.disarm()
	})
	assert.Zero(t, allocs)
}

// A forced GC is in the final Stats or does not run: stop freezes the
// Stats, and a forced GC whose turn on the executor comes after that runs
// neither the pre-GC notifees nor ForcedGCFunc.
func TestForcedGCAfterStopRunsNothing(t *testing.T) {
	r := newSampleRun(t)
	saved := ForcedGCFunc
	t.Cleanup(func() { ForcedGCFunc = saved })
	calls, pre := 0, 0
	ForcedGCFunc = func() { calls++ }
	unregister := RegisterPreGCNotifee(func() { pre++ })
	defer unregister()
	r.stats.Running = true
	r.usage, r.threshold = 600*mib, 512*mib

	r.forceGC()
	require.Equal(t, 1, calls)
	require.Equal(t, 1, pre)
	require.Equal(t, uint64(1), r.stats.ForcedGCs)

	r.release()
	r.usage, r.threshold = 600*mib, 512*mib
	r.forceGC()
	assert.Equal(t, 1, calls, "ForcedGCFunc ran after stop")
	assert.Equal(t, 1, pre, "a pre-GC notifee ran after stop")
	assert.Equal(t, uint64(1), r.stats.ForcedGCs)
}

type gogcOffLater struct {
	PeakHeap  uint64 // after the watchdog noticed
	Reported  int
	Restored  int
	Noticed   bool
	GCsDuring uint64
}

// childHeapGOGCOffLater runs HeapDriven with a 64 MiB limit, then turns the
// GC off, as a program may, and churns garbage.
func childHeapGOGCOffLater() (any, error) {
	HeadroomSoftLimit = false
	rec := &recLogger{}
	SetLogger(rec)
	debug.SetGCPercent(100)
	live := allocLive(24)
	err, stop := HeapDriven(64*mib, 25, NewWatermarkPolicy(0.5, 0.9))
	if err != nil {
		return nil, err
	}
	if err := gcAndWait(1); err != nil {
		stop()
		return nil, err
	}
	debug.SetGCPercent(-1) // the program's choice while the watchdog runs
	before := readMetric("/gc/cycles/total:gc-cycles")
	var res gogcOffLater
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !res.Noticed {
		churn(8 << 20)
		res.Noticed = len(rec.find("INFO", "changed GOGC from", "to -1")) > 0
	}
	if err := gcAndWait(1); err != nil { // the heap grown before the check
		stop()
		return nil, err
	}
	res.PeakHeap = churn(1 << 30)
	res.GCsDuring = readMetric("/gc/cycles/total:gc-cycles") - before
	res.Reported = Snapshot().GOGC
	stop()
	res.Restored = currentGOGC()
	runtime.KeepAlive(live)
	debug.SetGCPercent(100)
	return res, nil
}

func TestHeapDrivenNoticesGOGCOffWhileRunning(t *testing.T) {
	var res gogcOffLater
	runChildTest(t, "heap-gogc-off-later", &res)
	assert.True(t, res.Noticed, "the change was noticed without a GC")
	assert.Less(t, res.PeakHeap, uint64(256*mib), "after the check, 24 MiB live and 1 GiB of garbage under a 64 MiB heap limit with GOGC=off (without it: 1 GiB)")
	assert.NotZero(t, res.GCsDuring)
	assert.NotEqual(t, -1, res.Reported)
	assert.Equal(t, -1, res.Restored, "stop restores the program's GOGC=off")
}
