package watchdog

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func init() {
	children["start-stop-stress"] = childStartStopStress
}

type stressResult struct {
	Cycles, FromNotifee, FromPolicy, Contended int
	FDsBefore, FDsAfter                        int
	GOGCBefore, GOGCAfter                      int
	LimitBefore, LimitAfter                    int64
	Leak                                       string
}

func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1 // not Linux: the check is skipped
	}
	return len(entries)
}

// childStartStopStress runs 1,000 start/stop cycles from four goroutines,
// stopping from the caller, from another goroutine, from a post-GC notifee
// and from a policy, then checks that nothing is left behind.
func childStartStopStress() (any, error) {
	SetLogger(&recLogger{})
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(3 << 30)
	// One cycle first: the runtime's poller opens its own descriptors on
	// first use, and they are not a leak.
	if err, stop := SystemDriven(0, time.Second, NewWatermarkPolicy(0.9)); err == nil {
		stop()
	}
	res := stressResult{FDsBefore: openFDs(), GOGCBefore: currentGOGC(), LimitBefore: debug.SetMemoryLimit(-1)}
	var cycles, fromNotifee, fromPolicy, contended atomic.Int64
	// cycle starts one watchdog and stops it one of four ways; it reports
	// false when another goroutine's watchdog holds the singleton.
	cycle := func(i int) (bool, error) {
		var stopRef atomic.Pointer[func()]
		stopped := make(chan struct{})
		var once sync.Once
		stopNow := func() {
			if s := stopRef.Load(); s != nil {
				(*s)()
				once.Do(func() { close(stopped) })
			}
		}
		evals := 0
		ctor := func(limit uint64) (Policy, error) {
			return PolicyFunc(func(_ UtilizationType, used uint64) uint64 {
				// From the second evaluation on: other goroutines' GCs may
				// bring one before stopRef is set, and stopNow is a no-op then.
				if evals++; i%4 == 2 && evals >= 2 {
					stopNow()
				}
				return limit
			}), nil
		}
		var err error
		var stop func()
		if i%2 == 0 {
			err, stop = SystemDriven(0, 10*time.Millisecond, ctor)
		} else {
			err, stop = HeapDriven(1<<40, 25, ctor)
		}
		if errors.Is(err, ErrAlreadyStarted) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		stopRef.Store(&stop)
		switch i % 4 {
		case 0:
			stop()
		case 1:
			go stopNow()
			stop()
		default:
			if i%4 == 3 {
				defer RegisterPostGCNotifee(stopNow)()
				fromNotifee.Add(1)
			} else {
				fromPolicy.Add(1)
			}
			for done := false; !done; {
				runtime.GC() // the policy (2) or the notifee (3) stops the run
				select {
				case <-stopped:
					done = true
				case <-time.After(time.Millisecond):
				}
			}
			stop() // idempotent
		}
		return true, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) { // g passed: go.mod's go line predates per-iteration loop variables
			defer wg.Done()
			for i := g; cycles.Load() < 1000; i++ {
				ok, err := cycle(i)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					cycles.Add(1)
				} else {
					contended.Add(1)
					time.Sleep(50 * time.Microsecond)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	res.Cycles, res.FromNotifee, res.FromPolicy, res.Contended = int(cycles.Load()), int(fromNotifee.Load()), int(fromPolicy.Load()), int(contended.Load())
	for deadline := time.Now().Add(testTimeout); ; {
		err := goleak.Find() // retries for a while itself
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			res.Leak = err.Error()
			break
		}
	}
	res.GOGCAfter, res.LimitAfter = currentGOGC(), debug.SetMemoryLimit(-1)
	for deadline := time.Now().Add(testTimeout); ; time.Sleep(10 * time.Millisecond) {
		if res.FDsAfter = openFDs(); res.FDsAfter <= res.FDsBefore || time.Now().After(deadline) {
			break
		}
	}
	if Snapshot().Running {
		return nil, fmt.Errorf("a watchdog still runs")
	}
	return res, nil
}

func TestStartStopStress(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 start/stop cycles")
	}
	var res stressResult
	runChildTest(t, "start-stop-stress", &res)
	assert.GreaterOrEqual(t, res.Cycles, 1000)
	assert.NotZero(t, res.FromNotifee, "some runs stopped from a notifee")
	assert.NotZero(t, res.FromPolicy, "some runs stopped from a policy")
	assert.Empty(t, res.Leak, "no goroutine left behind")
	assert.Equal(t, res.FDsBefore, res.FDsAfter, "no file descriptor left behind")
	assert.Equal(t, res.GOGCBefore, res.GOGCAfter, "GOGC restored")
	assert.Equal(t, res.LimitBefore, res.LimitAfter, "soft memory limit restored")
}
