// Command demo starts the watchdog by the recommended precedence (heap limit,
// else cgroup, else system) and runs a bursty allocation workload, printing a
// line per GC and a summary. It needs no set-up and exits 0.
//
//	go run ./examples/demo [-duration 6s] [-heap-limit 256MiB]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long the workload runs")
	heapLimit := flag.String("heap-limit", "", "a heap limit such as 256MiB selects the heap driver (also read from DEMO_HEAP_LIMIT)")
	headroom := flag.String("system-headroom", "384MiB", "with the system driver, the limit is the memory used now plus this much, so the bursts cross the watermarks")
	flag.Parse()
	if err := run(*duration, *heapLimit, *headroom); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, heapLimit, headroom string) error {
	opts := watchdog.Options{HeapLimitEnv: "DEMO_HEAP_LIMIT", Frequency: 100 * time.Millisecond}
	if heapLimit != "" {
		n, err := watchdog.ParseSize(heapLimit)
		if err != nil {
			return fmt.Errorf("-heap-limit: %w", err)
		}
		opts.HeapLimit = n
	}
	extra, err := watchdog.ParseSize(headroom)
	if err != nil {
		return fmt.Errorf("-system-headroom: %w", err)
	}
	// On a machine with no cgroup limit the system driver would watch all
	// of its memory, far above the bursts. A quiet first start finds the
	// driver and the memory in use; the system limit is then set just
	// above it.
	if limit, ok := probeSystemUsage(opts); ok {
		opts.SystemLimit = limit + extra
	}

	res, stop, err := watchdog.Start(opts)
	switch {
	case err != nil:
		fmt.Println("no watchdog could start here; running the workload unprotected:", err)
	case res.Disabled:
		fmt.Println(res, "- running the workload unprotected")
	default:
		fmt.Println(res)
	}

	var mu sync.Mutex
	var lastForced, peak uint64
	lines := 0
	unregister := watchdog.RegisterPostGCNotifee(func() {
		s := watchdog.Snapshot()
		mu.Lock()
		defer mu.Unlock()
		forced := "runtime"
		if s.ForcedGCs > lastForced {
			forced, lastForced = "FORCED ", s.ForcedGCs
		}
		peak = max(peak, s.Usage)
		lines++
		fmt.Printf("gc %4d  %s  usage %6.1f MiB  threshold %s  soft limit %s  GOGC %d\n",
			s.GCs, forced, mib(s.Usage), fmtLimit(s.Threshold), fmtLimit(uint64(max(s.SoftLimit, 0))), s.GOGC)
	})

	start := time.Now()
	burst := burstSize()
	workload(duration, burst)
	unregister()
	stop()

	s := watchdog.Snapshot()
	fmt.Printf("\nsummary: driver %q, limit %.1f MiB, bursts of %.1f MiB, %v\n", s.Driver, mib(s.Limit), mib(burst), time.Since(start).Round(time.Millisecond))
	fmt.Printf("         %d GCs (%d forced by the watchdog), peak usage seen after a GC %.1f MiB, GC CPU %.1f%%\n",
		s.GCs, s.ForcedGCs, mib(peak), gcCPUPercent())
	return nil
}

// probeSystemUsage starts and stops a watchdog with opts, logging nothing,
// and returns the memory in use if the system driver is the one that
// started.
func probeSystemUsage(opts watchdog.Options) (used uint64, ok bool) {
	logger := watchdog.Logger
	watchdog.Logger = discard{}
	defer func() { watchdog.Logger = logger }()
	res, stop, err := watchdog.Start(opts)
	stop()
	if err != nil || res.Driver != "system" {
		return 0, false
	}
	return watchdog.Snapshot().Usage, true
}

// discard is a watchdog.Logger that drops every line.
type discard struct{}

func (discard) Debugf(string, ...interface{}) {}
func (discard) Infof(string, ...interface{})  {}
func (discard) Warnf(string, ...interface{})  {}
func (discard) Errorf(string, ...interface{}) {}

// burstSize sizes the live bursts to 70% of the headroom under the limit,
// capped at 256 MiB, so they cross the watermarks without endangering the
// machine.
func burstSize() uint64 {
	s := watchdog.Snapshot()
	if s.Limit == 0 || s.Usage >= s.Limit {
		return 64 << 20
	}
	return min((s.Limit-s.Usage)*7/10, 256<<20)
}

// workload alternates bursts of live memory with garbage churn.
func workload(d time.Duration, burst uint64) {
	deadline := time.Now().Add(d)
	var live [][]byte
	var sink []byte
	for i := 0; time.Now().Before(deadline); i++ {
		if i%2 == 0 { // a burst: hold `burst` bytes live, built in 1 MiB pieces
			for n := uint64(0); n < burst; n += 1 << 20 {
				b := make([]byte, 1<<20)
				for j := 0; j < len(b); j += 4096 {
					b[j] = byte(j)
				}
				live = append(live, b)
			}
		} else {
			live = nil
		}
		for j := 0; j < 300; j++ { // churn: short-lived garbage
			sink = make([]byte, 32<<10)
		}
		time.Sleep(150 * time.Millisecond)
	}
	runtime.KeepAlive(sink)
	runtime.KeepAlive(live)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func fmtLimit(b uint64) string {
	if b == 0 || b == watchdog.PolicyTempDisabled || b >= 1<<62 {
		return "   none   "
	}
	return fmt.Sprintf("%6.1f MiB", mib(b))
}

func gcCPUPercent() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	if s[1].Value.Float64() == 0 {
		return 0
	}
	return 100 * s[0].Value.Float64() / s[1].Value.Float64()
}
