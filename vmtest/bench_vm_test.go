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

// The survival benchmark of bench/ (cd bench && go run ./runner), on cgroup
// v2 in a VM: the host benchmark uses the host's cgroup v1 hierarchy, and
// v1.3.0's CgroupDriven only knows v1.
//
// Calibration: the host benchmark's, unscaled (256 MiB cap, 600 MiB/s of
// garbage for a nominal 6 s, bench/runner/scenarios.go's sizes). TCG keeps
// up with that rate: unmanaged heaponly runs finish in 6.2 s of the paced
// 6 s, with a GC CPU share close to the host's, so there is nothing to scale
// down, and the two benchmarks' tables compare cell by cell. At half the
// sizes (128 MiB cap, 120 MiB/s) the scenarios keep their outcomes too, but
// the watchdog sees much less pressure. The VM has 768 MiB so that the cap,
// not the guest's RAM, is what runs out.
const (
	benchCapMiB   = 256
	benchChurnMiB = 600 // MiB/s of garbage, as on the host
	benchDuration = 6 * time.Second
	benchRunsDef  = 3
	benchVMMiB    = 768
)

// benchScenarios are bench/runner/scenarios.go's (pagecache aside: it needs
// a block device).
var benchScenarios = []struct {
	name string
	args []string
}{
	{"offheap", []string{"-offheap", "100", "-live", "80"}},
	{"offheap-growing", []string{"-offheap", "40", "-offheap-grow", "100", "-live", "64"}},
	{"spike", []string{"-live", "40", "-spike", "96"}},
	{"heaponly", []string{"-live", "88"}},
}

// benchStrategies are bench/runner/strategies.go's: the workload build and
// its -strategy value.
type benchStrategy struct{ name, build, flag string }

var benchStrategies = []benchStrategy{
	{"none", "this", "none"},
	{"gomemlimit", "this", "gomemlimit"},
	{"v130", "v130", "watchdog"},
	{"this", "this", "watchdog"},
}

// TestVMBench runs the survival benchmark in fresh memory-capped cgroup v2
// children inside a VM, one VM per scenario, one run after the other. It is
// opt-in (VMTEST_BENCH=1) and takes a few minutes:
//
//	cd vmtest && VMTEST_BENCH=1 VMTEST_BENCH_OUT=/tmp/vmbench.md go test -tags vmtest -run TestVMBench -count=1 -v -timeout 20m .
//
// VMTEST_BENCH_BASE=<checkout> adds a strategy "base": the watchdog built
// from that checkout of this repository, interleaved with the others in the
// same VMs, for an A/B comparison with "this".
// VMTEST_BENCH_EXTRA=watchdog-disablethp (a comma-separated list of the
// workload's -strategy values) adds a column "this-<value>" for each.
// VMTEST_BENCH_RUNS (default 3) sets the runs per cell, VMTEST_BENCH_SCENARIOS
// (default offheap,offheap-growing,spike,heaponly) the scenarios, VMTEST_LOGDIR keeps the
// serial logs. The tables go to the test log and to $VMTEST_BENCH_OUT.
func TestVMBench(t *testing.T) {
	if os.Getenv("VMTEST_BENCH") == "" {
		t.Skip("set VMTEST_BENCH=1 to run the cgroup v2 survival benchmark (a few minutes)")
	}
	runs := benchRunsDef
	if s := os.Getenv("VMTEST_BENCH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "VMTEST_BENCH_RUNS")
		runs = n
	}
	scens := benchScenarios[:0:0]
	want := strings.Split(os.Getenv("VMTEST_BENCH_SCENARIOS"), ",")
	for _, s := range benchScenarios {
		if want[0] == "" || contains(want, s.name) {
			scens = append(scens, s)
		}
	}
	require.NotEmpty(t, scens, "VMTEST_BENCH_SCENARIOS=%s matches none", os.Getenv("VMTEST_BENCH_SCENARIOS"))

	bv := newBenchVM(t)
	strategies := benchStrategies
	if bv.files["/bench/workload-base"] != nil {
		strategies = append(strategies[:len(strategies):len(strategies)], benchStrategy{"base", "base", "watchdog"})
	}
	for _, f := range strings.Split(os.Getenv("VMTEST_BENCH_EXTRA"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			strategies = append(strategies[:len(strategies):len(strategies)], benchStrategy{"this-" + f, "this", f})
		}
	}
	var all []BenchResult
	t0 := time.Now()
	for _, sc := range scens {
		plan := BenchPlan{
			CapBytes:    benchCapMiB << 20,
			Timeout:     5*benchDuration + 20*time.Second,
			Settle:      250 * time.Millisecond,
			PSITriggers: psiTriggers,
		}
		// Interleaved as the host runner does: run 1 of every strategy,
		// then run 2, ...
		for run := 1; run <= runs; run++ {
			for _, st := range strategies {
				plan.Runs = append(plan.Runs, BenchRun{
					Scenario: sc.name, Strategy: st.name, Run: run,
					Bin: "/bench/workload-" + st.build,
					Args: append([]string{"-strategy", st.flag, "-scenario", sc.name,
						"-duration", benchDuration.String(), "-churn", strconv.Itoa(benchChurnMiB)}, sc.args...),
				})
			}
		}
		// A killed run ends fast; budget for every run going to its timeout
		// would be hours, so bound the VM by a generous per-run estimate.
		timeout := time.Minute + time.Duration(len(plan.Runs))*(3*benchDuration)
		results := bv.run(t, "bench-"+sc.name, plan, timeout)
		for _, r := range results {
			line := fmt.Sprintf("%-9s %-10s run %d: %-10s peak %5.1f MiB, %5.2f s", r.Scenario, r.Strategy, r.Run, r.Outcome, float64(r.PeakBytes())/(1<<20), r.Wall)
			if w := r.Result; w != nil {
				line += fmt.Sprintf(", GC CPU %.1f %%, %d GCs (%d forced), churned %d MiB", w.GCCPUFraction*100, w.GCs, w.ForcedGCs, w.ChurnedMiB)
				if w.Watchdog != nil {
					line += fmt.Sprintf(", watchdog %v", w.Watchdog)
				}
			} else {
				line += ": " + r.Detail
				if r.Outcome == "failed" && r.LogTail != "" {
					line += "; stderr ends:\n" + r.LogTail + "\n"
				}
			}
			line += fmt.Sprintf(" [memory.events max %d, high %d, oom_kill %d]%s", r.MaxEvents, r.HighEvents, r.OOMKills, fmtMonitor(r.Monitor))
			t.Log(line)
		}
		for _, r := range results {
			if r.Strategy == "this" && r.LogHead != "" {
				t.Logf("the watchdog's log in %s (run %d):\n%s", r.Scenario, r.Run, r.LogHead)
				break
			}
		}
		all = append(all, results...)
	}

	var md strings.Builder
	fmt.Fprintf(&md, "Cgroup v2, in a QEMU TCG VM (kernel %s, 2 vCPUs, %d MiB RAM): each run in a fresh cgroup v2 child of the VM's init with memory.max = %d MiB and memory.swap.max = 0, "+
		"%d runs per cell, garbage at %d MiB/s for a nominal %v (the host benchmark's sizes). Peak is memory.peak; peak and wall are medians over all runs, GC and watchdog columns over the runs that finished. "+
		"Max events are memory.events `max` (how often usage hit memory.max) per run, over the runs that started. "+
		"Whole benchmark: %.0f s of wall time.\n\n"+
		"```sh\ncd vmtest && ./setup.sh && VMTEST_BENCH=1 VMTEST_BENCH_OUT=/tmp/vmbench.md go test -tags vmtest -run TestVMBench -count=1 -v -timeout 20m .\n```\n\n",
		bv.kernel.Release, benchVMMiB, benchCapMiB, runs, benchChurnMiB, benchDuration, time.Since(t0).Seconds())
	names := make([]string, len(strategies))
	for i, st := range strategies {
		names[i] = st.name
	}
	for _, sc := range scens {
		fmt.Fprintf(&md, "#### %s (`%s`)\n\n%s\n", sc.name, strings.Join(sc.args, " "), BenchTable(all, sc.name, names))
	}
	scenNames := make([]string, len(scens))
	for i, sc := range scens {
		scenNames[i] = sc.name
	}
	md.WriteString(eventSourcesSection(all, scenNames, names))
	noStart := map[string]string{}
	for _, r := range all {
		if r.Outcome == "no-start" {
			noStart[r.Strategy] = r.Detail
		}
	}
	for _, st := range names {
		if why, ok := noStart[st]; ok {
			fmt.Fprintf(&md, "`%s` does not start on cgroup v2: `CgroupDriven` returns an error, and the workload, like an application that checks it, exits 1 before allocating anything (`%s`). "+
				"An application that ignored the error would run unprotected, as `none`.\n\n", st, why)
		}
	}
	t.Logf("\n%s", md.String())
	if out := os.Getenv("VMTEST_BENCH_OUT"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(md.String()), 0o644))
		t.Logf("tables written to %s", out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}
