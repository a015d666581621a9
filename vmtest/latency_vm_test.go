//go:build vmtest

package vmtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// latencyStrategies are bench/runner/latency.go's: CgroupDriven at 1 s with
// the workload's fixed policy (threshold at 50 % of the cap).
var latencyStrategies = []struct{ name, build, flag, doc string }{
	{"v130", "v130", "watchdog", "go-watchdog v1.3.0 `CgroupDriven`"},
	{"this-poll-1s", "this", "watchdog-poll-1s", "`KernelEvents = false`, `HeadroomSoftLimit = false`: polls at 1 s, shortened by adaptive sampling"},
	{"this-poll", "this", "watchdog-poll", "`KernelEvents = false`: polls at least every 100 ms while it manages the soft limit, plus adaptive sampling"},
	{"this", "this", "watchdog", "the defaults: kernel events on (on cgroup v2: inotify on memory.events), polling as this-poll besides"},
}

// TestVMLatency measures the reaction latency (threshold crossing to the
// start of the forced GC) on cgroup v2: bench/workload's latency scenario,
// one run per strategy in a fresh cgroup v2 child of the VM's init capped
// at 256 MiB, the workload reading the cgroup's memory.current to time the
// crossing. It is opt-in (VMTEST_LATENCY=1) and takes about two minutes:
//
//	cd vmtest && VMTEST_LATENCY=1 VMTEST_LATENCY_OUT=/tmp/vmlatency.md go test -tags vmtest -run TestVMLatency -count=1 -v -timeout 20m .
//
// VMTEST_LATENCY_TRIALS (default 15) sets the crossings per strategy.
func TestVMLatency(t *testing.T) {
	if os.Getenv("VMTEST_LATENCY") == "" {
		t.Skip("set VMTEST_LATENCY=1 to measure the reaction latency on cgroup v2 (a few minutes)")
	}
	trials := 15
	if s := os.Getenv("VMTEST_LATENCY_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "VMTEST_LATENCY_TRIALS")
		require.Positive(t, n, "VMTEST_LATENCY_TRIALS")
		trials = n
	}
	bv := newBenchVM(t)
	perRun := time.Duration(trials)*5*time.Second + 30*time.Second
	plan := BenchPlan{CapBytes: benchCapMiB << 20, Timeout: perRun, Settle: 250 * time.Millisecond, PSITriggers: psiTriggers}
	names := make([]string, len(latencyStrategies))
	for i, st := range latencyStrategies {
		names[i] = st.name
		plan.Runs = append(plan.Runs, BenchRun{
			Scenario: "latency", Strategy: st.name, Run: 1, Bin: "/bench/workload-" + st.build,
			Args: []string{"-strategy", st.flag, "-scenario", "latency", "-trials", strconv.Itoa(trials),
				"-usage-file", "{cgroup}/memory.current"},
		})
	}
	t0 := time.Now()
	results := bv.run(t, "latency", plan, time.Minute+time.Duration(len(plan.Runs))*perRun)
	for _, r := range results {
		line := fmt.Sprintf("%-12s %-9s %5.1f s", r.Strategy, r.Outcome, r.Wall)
		if w := r.Result; w != nil {
			for i, tr := range w.Trials {
				t.Logf("%s trial %2d: %8.2f ms%s, ramp %6.1f ms, crossed at %5.1f MiB, %d forced GCs, CPU wait %.0f ms",
					r.Strategy, i+1, tr.LatencyMs, map[bool]string{true: " MISSED"}[tr.Missed], tr.RampMs, float64(tr.CrossBytes)/(1<<20), tr.ForcedGCs, tr.RunqWaitMs)
			}
			line += fmt.Sprintf(", watchdog %v", w.Watchdog)
		} else {
			line += ": " + r.Detail
		}
		t.Log(line + fmtMonitor(r.Monitor))
	}
	for _, r := range results {
		if r.Strategy == "this" && r.LogHead != "" {
			t.Logf("the watchdog's log (this):\n%s", r.LogHead)
		}
	}

	var md strings.Builder
	fmt.Fprintf(&md, "Reaction latency on cgroup v2, in a QEMU TCG VM (kernel %s, 2 vCPUs, %d MiB RAM): bench/workload `-scenario latency -trials %d`, "+
		"one run per strategy in a fresh cgroup v2 child of init with memory.max = %d MiB, threshold fixed at 50 %% of it, usage read from memory.current. "+
		"Latencies over the trials not missed; whole benchmark %.0f s.\n\n"+
		"```sh\ncd vmtest && ./setup.sh && VMTEST_LATENCY=1 VMTEST_LATENCY_OUT=/tmp/vmlatency.md go test -tags vmtest -run TestVMLatency -count=1 -v -timeout 20m .\n```\n\n",
		bv.kernel.Release, benchVMMiB, trials, benchCapMiB, time.Since(t0).Seconds())
	for _, st := range latencyStrategies {
		fmt.Fprintf(&md, "- **%s**: %s.\n", st.name, st.doc)
	}
	fmt.Fprintf(&md, "\n%s\nEvent sources seen from outside the runs (see the survival benchmark's section):\n\n%s\n",
		LatencyTable(results, names), EventSourceTable(results, "latency", names))
	t.Logf("\n%s", md.String())
	if out := os.Getenv("VMTEST_LATENCY_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(md.String()), 0o644))
		t.Logf("tables written to %s", out)
	}
}
