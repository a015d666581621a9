package watchdog

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// These tests run against the real runtime, each scenario in its own child
// process (see TestMain), so GOGC, soft limits and GC counts are its own.

func init() {
	children["heap-gogc"] = childHeapGOGC
	children["forced-gc-count"] = childForcedGCCount
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func currentGOGC() int { return normalizeGOGC(int(int64(readMetric("/gc/gogc:percent")))) }

type heapCase struct {
	GOGC      int
	Goal      uint64
	Threshold uint64
	Restored  int
}

// allocLive returns n MiB of touched, live memory.
func allocLive(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, mib)
		for j := 0; j < mib; j += 4096 {
			out[i][j] = 1
		}
	}
	return out
}

// gcAndWait runs n GCs, each time waiting until the watchdog has handled
// it (its post-GC notifees run after it updated its state).
func gcAndWait(n int) error {
	seen := make(chan struct{}, 1)
	defer RegisterPostGCNotifee(func() {
		select {
		case seen <- struct{}{}:
		default:
		}
	})()
	for i := 0; i < n; i++ {
		if err := gcUntil(fmt.Sprintf("the watchdog to observe GC %d", i+1), func() bool {
			select {
			case <-seen:
				return true
			case <-time.After(gcRetry):
				return false
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// gcRetry is how long gcUntil waits for the watchdog after each GC.
const gcRetry = 500 * time.Millisecond

// gcUntil runs a GC and polls cond for gcRetry, again and again until cond
// holds, for at most testTimeout. One GC is not always enough: the end of a
// cycle is seen through a finalizer, and the object it is set on next is
// allocated live (black) if another cycle is already marking, so that
// cycle's end is reported only with the one after it. A program that
// allocates always has a next cycle; a test that stops allocating has to
// run it.
func gcUntil(what string, cond func() bool) error {
	deadline := time.Now().Add(testTimeout)
	for {
		runtime.GC()
		for poll := time.Now().Add(gcRetry); time.Now().Before(poll); time.Sleep(time.Millisecond) {
			if cond() {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", testTimeout, what)
		}
	}
}

func childHeapGOGC() (any, error) {
	HeadroomSoftLimit = false
	SetLogger(&recLogger{})
	run := func(origGOGC, liveMiB int, limit uint64, minGOGC int, ctor PolicyCtor) (heapCase, error) {
		debug.SetGCPercent(origGOGC)
		live := allocLive(liveMiB)
		runtime.GC()
		err, stop := HeapDriven(limit, minGOGC, ctor)
		if err != nil {
			return heapCase{}, err
		}
		if err := gcAndWait(2); err != nil {
			stop()
			return heapCase{}, err
		}
		c := heapCase{GOGC: currentGOGC(), Goal: readMetric("/gc/heap/goal:bytes"), Threshold: Snapshot().Threshold}
		stop()
		c.Restored = currentGOGC()
		runtime.KeepAlive(live)
		return c, nil
	}
	out := map[string]heapCase{}
	var err error
	if out["steer"], err = run(100, 30, 64*mib, 10, NewWatermarkPolicy(0.8)); err != nil {
		return nil, err
	}
	if out["cap"], err = run(80, 4, 64*mib, 10, NewWatermarkPolicy(0.9)); err != nil {
		return nil, err
	}
	if out["floor"], err = run(100, 54, 64*mib, 25, NewWatermarkPolicy(0.95)); err != nil {
		return nil, err
	}
	disabled := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return PolicyTempDisabled }), nil
	}
	if out["disabled"], err = run(120, 10, 64*mib, 25, disabled); err != nil {
		return nil, err
	}
	return out, goleak.Find()
}

func TestHeapDrivenSteersGOGC(t *testing.T) {
	var res map[string]heapCase
	runChildTest(t, "heap-gogc", &res)

	steer := res["steer"]
	assert.Equal(t, uint64(64*mib*8/10), steer.Threshold)
	assert.Less(t, steer.GOGC, 100, "30 MiB live and a 51 MiB target need GOGC well under 100")
	assert.Greater(t, steer.GOGC, 10)
	assert.InEpsilon(t, float64(steer.Threshold), float64(steer.Goal), 0.15,
		"the pacer's goal (%d) lands on the policy's threshold (%d)", steer.Goal, steer.Threshold)
	assert.Equal(t, 100, steer.Restored, "stop restores the original GOGC")

	assert.Equal(t, 80, res["cap"].GOGC, "never above the original GOGC")
	assert.Equal(t, 80, res["cap"].Restored)
	assert.Equal(t, 25, res["floor"].GOGC, "never below minGOGC")
	assert.Equal(t, 120, res["disabled"].GOGC, "PolicyTempDisabled restores the original GOGC")
	assert.Equal(t, 120, res["disabled"].Restored)
}

type forcedResult struct {
	Ticks, Forced, RuntimeForced, Pre, Post int
	DisabledForced, DisabledPre             int
	PostOnRuntimeGC, PreOnRuntimeGC         int
}

func childForcedGCCount() (any, error) {
	HeadroomSoftLimit = false
	SetLogger(&recLogger{})
	mock := clock.NewMock()
	Clock = mock
	waits := make(chan time.Duration, 100)
	testHookWait = func(d time.Duration) { waits <- d }
	var res forcedResult
	var pre, post int
	postC := make(chan struct{}, 100)
	RegisterPreGCNotifee(func() { pre++ })
	RegisterPostGCNotifee(func() { post++; postC <- struct{}{} })
	await := func() (time.Duration, error) {
		select {
		case d := <-waits:
			return d, nil
		case <-time.After(testTimeout):
			return 0, fmt.Errorf("loop did not wait")
		}
	}
	always := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return 0 }), nil
	}
	never := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return PolicyTempDisabled }), nil
	}
	// tickN advances the clock until the loop has taken n samples. GC
	// events also wake the loop, so waits are not counted, samples are.
	tickN := func(ctor PolicyCtor, n int) error {
		err, stop := SystemDriven(0, time.Second, ctor)
		if err != nil {
			return err
		}
		defer stop()
		d, err := await()
		for err == nil && Snapshot().Samples < uint64(n) {
			mock.Add(d)
			d, err = await()
		}
		return err
	}
	before := readMetric("/gc/cycles/forced:gc-cycles")
	res.Ticks = 5
	if err := tickN(always, res.Ticks); err != nil {
		return nil, err
	}
	res.Forced = int(lastStats.ForcedGCs)
	res.RuntimeForced = int(readMetric("/gc/cycles/forced:gc-cycles") - before)
	res.Pre, res.Post = pre, post

	pre = 0
	if err := tickN(never, 5); err != nil {
		return nil, err
	}
	res.DisabledForced, res.DisabledPre = int(lastStats.ForcedGCs), pre

	// A GC the watchdog did not force: post-GC notifees run, pre-GC do not.
	err, stop := SystemDriven(0, time.Second, never)
	if err != nil {
		return nil, err
	}
	for len(postC) > 0 {
		<-postC
	}
	pre, post = 0, 0
	_ = gcUntil("a post-GC notification", func() bool { return len(postC) > 0 }) // a miss shows in the counts
	stop()
	res.PostOnRuntimeGC, res.PreOnRuntimeGC = post, pre
	testHookWait = nil
	return res, goleak.Find()
}

func TestForcedGCCountsAgainstRuntime(t *testing.T) {
	var res forcedResult
	runChildTest(t, "forced-gc-count", &res)
	assert.Equal(t, res.Ticks, res.Forced, "one forced GC per sample at or above the threshold")
	assert.Equal(t, res.Ticks, res.RuntimeForced, "the runtime counted exactly the GCs the watchdog forced")
	assert.Equal(t, res.Ticks, res.Pre, "pre-GC notifees run before each forced GC")
	assert.GreaterOrEqual(t, res.Post, 1, "post-GC notifees run after forced GCs")
	assert.Zero(t, res.DisabledForced, "PolicyTempDisabled never forces")
	assert.Zero(t, res.DisabledPre)
	assert.GreaterOrEqual(t, res.PostOnRuntimeGC, 1, "post-GC notifees run after a GC the watchdog did not force")
	assert.Zero(t, res.PreOnRuntimeGC, "pre-GC notifees run only before forced GCs")
}
