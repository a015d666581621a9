//go:build !watchdog_v130

package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// Strategies that need API only this repository has. The v1.3.0 build
// (-tags watchdog_v130 -modfile=go.v130.mod) leaves this file out,
// so everything in main.go must compile against v1.3.0 too.
//
// To benchmark a new option of this library, register it here under a name
// starting with "watchdog-", e.g.
//
//	strategies["watchdog-foo"] = func(capBytes uint64) (func(), error) {
//		err, stop := watchdog.CgroupDriven(time.Second, policy, watchdog.WithFoo())
//		if err != nil {
//			return nil, err
//		}
//		return stop, nil
//	}
//
// and add a row to the runner's strategy table (runner/strategies.go).
func init() {
	// Polling only: no kernel events, soft limit managed (so polls at least
	// every 100 ms).
	strategies["watchdog-poll"] = cgroupWith(nil, func() { watchdog.KernelEvents = false })
	// Polling at the frequency (1 s) with adaptive sampling only: no kernel
	// events, no soft limit.
	strategies["watchdog-poll-1s"] = cgroupWith(nil, func() {
		watchdog.KernelEvents = false
		watchdog.HeadroomSoftLimit = false
	})
	// The defaults with the Go heap kept off transparent huge pages
	// (GODEBUG=disablethp=1, the remedy the watchdog's THP advice names):
	// the workload execs itself with it, as the runtime reads it at start.
	strategies["watchdog-disablethp"] = func(capBytes uint64) (func(), error) {
		if !strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
			self, err := os.Executable()
			if err != nil {
				return nil, err
			}
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GODEBUG=") {
					env = append(env, kv)
				}
			}
			env = append(env, "GODEBUG="+strings.TrimPrefix(os.Getenv("GODEBUG")+",disablethp=1", ","))
			return nil, fmt.Errorf("exec with GODEBUG=disablethp=1: %w", syscall.Exec(self, os.Args, env))
		}
		return cgroupWith(nil, func() {})(capBytes)
	}
	// The defaults' soft limit without forced GCs: a policy that never sets
	// a threshold. Shows what the forced GCs cost or buy.
	strategies["watchdog-noforce"] = cgroupWith(func(uint64) (watchdog.Policy, error) {
		return watchdog.PolicyFunc(func(watchdog.UtilizationType, uint64) uint64 { return watchdog.PolicyTempDisabled }), nil
	}, func() {})
	watchdogCounters = func() map[string]uint64 {
		s := watchdog.Snapshot()
		return map[string]uint64{"events": s.Events, "samples": s.Samples, "forced_gcs": s.ForcedGCs,
			"deferred": s.ForcedGCsDeferred, "ineffective": s.GCsIneffective, "beyond_gc": b2u(s.BeyondGC), "reserve_mib": s.Reserve >> 20, "soft_limit_mib": uint64(s.SoftLimit) >> 20,
			"usage_mib": s.Usage >> 20, "reclaimable_mib": s.Reclaimable >> 20}
	}
}

// cgroupWith runs CgroupDriven(1s, ctor) after setting package options. A
// nil ctor is the package's policy as it is when the strategy starts: the
// latency scenario replaces it with a fixed threshold.
func cgroupWith(ctor watchdog.PolicyCtor, set func()) strategy {
	return func(uint64) (func(), error) {
		set()
		c := ctor
		if c == nil {
			c = policy
		}
		err, stop := watchdog.CgroupDriven(time.Second, c)
		if err != nil {
			return nil, err
		}
		return stop, nil
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
