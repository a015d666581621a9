//go:build !watchdog_v130

package main

// Strategies that need API only this repository has. The v1.3.0 build
// (-tags watchdog_v130 -modfile=go.v130.mod) leaves this file out,
// so everything in main.go must compile against v1.3.0 too.
//
// To benchmark a new option of this library, register it here under a name
// starting with "watchdog-", e.g.
//
//	strategies["watchdog-foo"] = func(capBytes uint64) (func(), error) {
//		err, stop := watchdog.CgroupDriven(time.Second, watchdog.NewWatermarkPolicy(lotusWatermarks...), watchdog.WithFoo())
//		if err != nil {
//			return nil, err
//		}
//		return stop, nil
//	}
//
// and add a row to the runner's strategy table (runner/strategies.go).
func init() {}
