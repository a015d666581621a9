package watchdogprom_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	watchdog "github.com/raulk/go-watchdog"
	watchdogprom "github.com/raulk/go-watchdog/prometheus"
)

// Register the collector, then serve the registry as usual, e.g. with
// promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on /metrics.
func ExampleNewCollector() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(watchdogprom.NewCollector())

	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		switch mf.GetName() {
		case "go_watchdog_info":
			for _, l := range mf.GetMetric()[0].GetLabel() {
				fmt.Printf("%s %s=%q\n", mf.GetName(), l.GetName(), l.GetValue())
			}
		case "go_watchdog_running", "go_watchdog_limit_bytes":
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	// Output:
	// go_watchdog_info driver="heap"
	// go_watchdog_info source=""
	// go_watchdog_limit_bytes 1.073741824e+09
	// go_watchdog_running 1
}
