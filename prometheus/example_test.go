package watchdogprom_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	watchdog "github.com/raulk/go-watchdog"
	watchdogprom "github.com/raulk/go-watchdog/prometheus"
)

// Register the collector beside the Go collector, then serve the registry
// as usual, e.g. with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on
// /metrics (prometheus.DefaultRegisterer has a Go collector already). The
// Go collector exports GOGC, the soft memory limit in force and the GC
// cycles; the watchdog's collector adds what only the watchdog knows.
func ExampleNewCollector() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		watchdogprom.NewCollector(),
	)

	err, stop := watchdog.HeapDriven(1<<30, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		switch mf.GetName() {
		case "watchdog_info":
			for _, l := range mf.GetMetric()[0].GetLabel() {
				fmt.Printf("%s %s=%q\n", mf.GetName(), l.GetName(), l.GetValue())
			}
		case "watchdog_running", "watchdog_limit_bytes":
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue())
		case "watchdog_events_total":
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "gc_forced" {
					fmt.Printf("%s{kind=%q} %v\n", mf.GetName(), "gc_forced", m.GetCounter().GetValue())
				}
			}
		}
	}
	// Output:
	// watchdog_events_total{kind="gc_forced"} 0
	// watchdog_info driver="heap"
	// watchdog_info source="heap"
	// watchdog_limit_bytes 1.073741824e+09
	// watchdog_running 1
}
