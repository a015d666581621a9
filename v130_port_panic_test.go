package watchdog

// v1.3.0's TestPanicRecover, through the public API. v1.3.0 called its
// polling function directly with a panicking policy and checked the log.
// Here a policy that panics at its first evaluation must make the driver
// fail and start nothing, and a policy, notifee, NotifyGC or ForcedGCFunc
// that panics later is recovered and logged while the watchdog keeps
// forcing and notifying GCs. Each case runs in a child process: the GCs are
// real.

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["v130-panic-first"] = childV130PanicFirst
	children["v130-panic-later"] = childV130PanicLater
}

type v130PanicFirst struct {
	HeapErr, SystemErr      string
	RunningAfter            bool
	GOGCBefore, GOGCAfter   int64
	GoodErr                 string // a good policy afterwards
	StartDriver, StartErr   string
	StartSkipped            []string
	Errors                  []string // ERROR log lines
	HeapStopNil, SysStopNil bool
	HeapRunning             bool  // still running after the first GC's panic
	HeapGOGCAfterGC         int64 // GOGC then
}

// v130PanicAt returns a policy constructor whose policy panics at
// evaluation number at (1 is the first), and otherwise answers answer.
func v130PanicAt(at int64, answer uint64) (PolicyCtor, *atomic.Int64) {
	var calls atomic.Int64
	return func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 {
			if calls.Add(1) == at {
				panic(fmt.Sprintf("policy exploded at evaluation %d", at))
			}
			return answer
		}), nil
	}, &calls
}

func childV130PanicFirst() (any, error) {
	rec := &recLogger{}
	SetLogger(rec)
	Clock = newV130Clock()
	var res v130PanicFirst
	res.GOGCBefore = int64(readMetric("/gc/gogc:percent"))
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}

	// Heap mode, as v1.3.0, asks its policy first at the first GC after
	// start: a policy that panics there is recovered, and GOGC stays.
	ctor, _ := v130PanicAt(1, 0)
	err, stop := HeapDriven(v130Limit, 25, ctor)
	res.HeapErr, res.HeapStopNil = errText(err), stop == nil
	if stop != nil {
		gcAndWait(1)
		res.HeapGOGCAfterGC = int64(readMetric("/gc/gogc:percent"))
		res.HeapRunning = Snapshot().Running
		stop()
	}
	ctor, _ = v130PanicAt(1, 0)
	err, stop = SystemDriven(0, v130Freq, ctor)
	res.SystemErr, res.SysStopNil = errText(err), stop == nil
	if stop != nil {
		stop()
	}
	res.RunningAfter = Snapshot().Running
	res.GOGCAfter = int64(readMetric("/gc/gogc:percent"))

	err, stop = SystemDriven(0, v130Freq, NewAdaptivePolicy(0.5))
	res.GoodErr = errText(err)
	if stop != nil {
		stop()
	}

	// Start with a policy that fails only for the system moves on from
	// that driver.
	systemOnly := func(limit uint64) (Policy, error) {
		return PolicyFunc(func(scope UtilizationType, used uint64) uint64 {
			if scope == UtilizationSystem {
				panic("policy exploded for the system")
			}
			return PolicyTempDisabled
		}), nil
	}
	sres, stop, err := Start(Options{SystemLimit: 1 << 40, Policy: systemOnly})
	res.StartDriver, res.StartSkipped, res.StartErr = sres.Driver, sres.Skipped, errText(err)
	stop()
	res.Errors = rec.withLevel("ERROR")
	return res, nil
}

// TestV130PanicAtFirstEvaluation: a policy that panics when the watchdog
// starts makes the driver return an error; nothing runs, GOGC is untouched,
// the panic is logged, and a later start works. Start goes on to the next
// driver.
func TestV130PanicAtFirstEvaluation(t *testing.T) {
	var res v130PanicFirst
	runChildTest(t, "v130-panic-first", &res)
	assert.Contains(t, res.SystemErr, "policy", "SystemDriven must fail when the policy panics at its first evaluation")
	assert.True(t, res.SysStopNil, "SystemDriven returned no stop function")
	assert.Empty(t, res.HeapErr, "HeapDriven asks its policy first after a GC, as v1.3.0")
	assert.False(t, res.HeapStopNil)
	assert.True(t, res.HeapRunning, "a policy that panics after a GC is recovered")
	assert.Equal(t, res.GOGCBefore, res.HeapGOGCAfterGC, "and GOGC stays as it was")
	assert.False(t, res.RunningAfter, "nothing runs")
	assert.Equal(t, res.GOGCBefore, res.GOGCAfter, "GOGC untouched")
	assert.Empty(t, res.GoodErr, "a later start works")
	assert.True(t, strings.Contains(strings.Join(res.Errors, "\n"), "policy exploded at evaluation 1"),
		"the panic is logged at error level: %q", res.Errors)

	if res.StartDriver != "cgroup" { // in a limited cgroup, Start picks it before the system
		assert.NotEmpty(t, res.StartErr, "no driver left after the system")
		assert.Empty(t, res.StartDriver)
		assert.True(t, strings.HasPrefix(res.StartSkipped[len(res.StartSkipped)-1], "system"), "the system driver is reported skipped: %q", res.StartSkipped)
	}
}

// v130PanicLater is what childV130PanicLater saw.
type v130PanicLater struct {
	Panicked        bool   // the callback did panic
	CallbackPanics  uint64 // Snapshot().CallbackPanics
	Errors          []string
	ForcedBefore    int64 // ForcedGCFunc calls when the panic was recovered
	ForcedAfter     int64 // and after three more ticks
	PostBefore      int64 // post-GC notifee calls, the same two moments
	PostAfter       int64
	RunningAfter    bool
	SamplesPerTicks []uint64
}

// childV130PanicLater runs SystemDriven with a policy that always asks for
// a GC, so each tick forces one, and makes one callback, named by
// WATCHDOG_V130_PANIC, panic once: "policy" (its second evaluation, after
// the first forced GC), "pre" (a pre-GC notifee), "post" (a post-GC
// notifee), "NotifyGC" or "ForcedGCFunc". After the panic, three more ticks.
func childV130PanicLater() (any, error) {
	which := os.Getenv("WATCHDOG_V130_PANIC")
	debug.SetGCPercent(-1) // only the watchdog's GCs
	clk := newV130Clock()
	Clock = clk
	rec := &recLogger{}
	SetLogger(rec)
	var panicked atomic.Bool
	once := func(name string) {
		if which == name && panicked.CompareAndSwap(false, true) {
			panic(name + " exploded")
		}
	}
	var forced, post atomic.Int64
	ForcedGCFunc = func() {
		forced.Add(1)
		once("ForcedGCFunc")
		runtime.GC()
	}
	NotifyGC = func() { once("NotifyGC") }
	defer RegisterPreGCNotifee(func() { once("pre") })()
	defer RegisterPostGCNotifee(func() {
		post.Add(1)
		once("post")
	})()
	ctor := func(uint64) (Policy, error) {
		evals := 0
		return PolicyFunc(func(UtilizationType, uint64) uint64 {
			if evals++; evals == 2 {
				once("policy")
			}
			return 0 // force a GC at every sample
		}), nil
	}

	armed := clk.armedCount()
	err, stop := SystemDriven(0, v130Freq, ctor)
	if err != nil {
		return nil, err
	}
	defer stop()
	if err := clk.waitArmed(armed); err != nil {
		return nil, err
	}
	var res v130PanicLater
	for i := 0; i < 10 && !panicked.Load(); i++ {
		n, err := clk.tick(v130Freq)
		if err != nil {
			return nil, err
		}
		res.SamplesPerTicks = append(res.SamplesPerTicks, n)
	}
	if !panicked.Load() {
		return nil, fmt.Errorf("%s never ran in 10 ticks", which)
	}
	if err := v130WaitUntil("the panic to be recovered", func() bool {
		return Snapshot().CallbackPanics > 0 || !Snapshot().Running
	}); err != nil {
		return nil, err
	}
	res.Panicked = true
	res.ForcedBefore, res.PostBefore = forced.Load(), post.Load()
	for i := 0; i < 3; i++ {
		n, err := clk.tick(v130Freq)
		if err != nil {
			return nil, err
		}
		res.SamplesPerTicks = append(res.SamplesPerTicks, n)
	}
	if err := v130WaitUntil("a GC notified after the panic", func() bool { return post.Load() > res.PostBefore }); err != nil {
		return nil, err
	}
	s := Snapshot()
	res.CallbackPanics, res.RunningAfter = s.CallbackPanics, s.Running
	res.ForcedAfter, res.PostAfter = forced.Load(), post.Load()
	stop()
	res.Errors = rec.withLevel("ERROR")
	return res, nil
}

// TestV130PanicRecover: a callback that panics after the start is recovered
// and logged at error level, and the watchdog keeps watching: later ticks
// still force GCs, and later GCs are still notified.
func TestV130PanicRecover(t *testing.T) {
	for _, which := range []string{"policy", "pre", "post", "NotifyGC", "ForcedGCFunc"} {
		t.Run(which, func(t *testing.T) {
			var res v130PanicLater
			runChildTest(t, "v130-panic-later", &res, "WATCHDOG_V130_PANIC="+which)
			require.True(t, res.Panicked)
			assert.True(t, res.RunningAfter, "the watchdog still runs after the %s panic", which)
			assert.Equal(t, uint64(1), res.CallbackPanics, "one panic recovered")
			assert.Greater(t, res.ForcedAfter, res.ForcedBefore, "later ticks still force GCs")
			assert.Greater(t, res.PostAfter, res.PostBefore, "later GCs are still notified")
			assert.True(t, strings.Contains(strings.Join(res.Errors, "\n"), which+" exploded"),
				"the panic is logged at error level: %q", res.Errors)
			t.Logf("samples per tick %v", res.SamplesPerTicks)
		})
	}
}
