package watchdog_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// The recommended setup in one call: a heap limit from MYAPP_HEAP_MAX if set,
// else the cgroup's limit, else the system's memory.
func ExampleStart() {
	res, stop, err := watchdog.Start(watchdog.Options{HeapLimitEnv: "MYAPP_HEAP_MAX"})
	if err != nil {
		fmt.Println("flying solo:", err)
		return
	}
	defer stop()
	fmt.Println("running:", res.Driver != "")
	// Output: running: true
}

// CgroupDriven returns an error when there is no cgroup limit to enforce;
// fall back to the system driver then.
func ExampleCgroupDriven() {
	policy := watchdog.NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95)
	err, stop := watchdog.CgroupDriven(time.Second, policy)
	if err != nil {
		err, stop = watchdog.SystemDriven(0, time.Second, policy)
	}
	if err != nil {
		fmt.Println("no watchdog:", err)
		return
	}
	defer stop()
	fmt.Println("running:", watchdog.Snapshot().Running)
	// Output: running: true
}

// A system-driven watchdog over all of the machine's memory.
func ExampleSystemDriven() {
	err, stop := watchdog.SystemDriven(0, time.Second, watchdog.NewAdaptivePolicy(0.5))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	fmt.Println(watchdog.Snapshot().Driver)
	// Output: system
}

// A heap-driven watchdog: GOGC is retuned after every GC so the next one
// runs at the policy's threshold, here 90% of a 1 GiB heap limit.
func ExampleHeapDriven() {
	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	s := watchdog.Snapshot()
	fmt.Println(s.Driver, s.Limit)
	// Output: heap 1073741824
}

func ExampleNewWatermarkPolicy() {
	policy, err := watchdog.NewWatermarkPolicy(0.5, 0.9)(1000)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(policy.Evaluate(watchdog.UtilizationProcess, 300))
	fmt.Println(policy.Evaluate(watchdog.UtilizationProcess, 600))
	fmt.Println(policy.Evaluate(watchdog.UtilizationProcess, 950) == watchdog.PolicyTempDisabled)

	_, err = watchdog.NewWatermarkPolicy(0.5, 1.5)(1000)
	fmt.Println(err)
	// Output:
	// 500
	// 900
	// true
	// watchdog: watermark 1.5 (position 1) is outside (0, 1]
}

func ExampleNewAdaptivePolicy() {
	policy, _ := watchdog.NewAdaptivePolicy(0.5)(1000)
	fmt.Println(policy.Evaluate(watchdog.UtilizationSystem, 200)) // 200 + (1000-200)/2
	// Output: 600
}

// A custom policy written as a function: GC every 64 MiB of growth, and
// never above 90% of the limit.
func ExamplePolicyFunc() {
	ctor := func(limit uint64) (watchdog.Policy, error) {
		return watchdog.PolicyFunc(func(_ watchdog.UtilizationType, used uint64) uint64 {
			return min(used+64<<20, limit/10*9)
		}), nil
	}
	policy, _ := ctor(1 << 30)
	fmt.Println(policy.Evaluate(watchdog.UtilizationProcess, 100<<20))
	// Output: 171966464
}

func ExampleRegisterPostGCNotifee() {
	unregister := watchdog.RegisterPostGCNotifee(func() {
		// Runs on the watchdog goroutine after each GC: drop caches, log, ...
	})
	defer unregister()
}

func ExampleSnapshot() {
	err, stop := watchdog.SystemDriven(0, time.Second, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := watchdog.Snapshot()
	fmt.Println(s.Running, s.Driver, s.Usage > 0, s.Threshold > s.Usage)
	stop()
	fmt.Println(watchdog.Snapshot().Running)
	// Output:
	// true system true true
	// false
}

func ExampleNewSlogLogger() {
	previous := watchdog.Logger
	defer func() { watchdog.Logger = previous }()

	watchdog.Logger = watchdog.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // drop the time so the output is stable
			}
			return a
		},
	})))
	watchdog.Logger.Infof("limit %d bytes", 1<<30)
	// Output: level=INFO msg="limit 1073741824 bytes" component=watchdog
}

// A program that acts on memory pressure: drop a cache at moderate
// pressure, refuse work at critical. Events arrive on a channel of their
// own; the watchdog never waits for it.
func ExampleSubscribe() {
	events, cancel := watchdog.Subscribe(16)
	defer cancel()
	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.5, 0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	stop()
	for ev := range events {
		switch ev.Kind {
		case watchdog.EventPressureChanged:
			if ev.Pressure >= watchdog.PressureModerate {
				// shed a cache; at PressureCritical, refuse new work too
			}
		case watchdog.EventStarted, watchdog.EventStopped:
			fmt.Println(ev.Kind, ev.Driver, ev.Limit)
		}
		if ev.Kind == watchdog.EventStopped {
			return
		}
	}
	// Output:
	// started heap 1073741824
	// stopped heap 1073741824
}
