package vmtest

// Host side of the reaction latency benchmark on cgroup v2 (TestVMLatency):
// bench/workload's latency scenario, run in the VM like the survival
// benchmark, summarised as a markdown table.

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// percentile returns the nearest-rank p-quantile of xs (p in (0, 1]), or
// NaN when xs is empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// fmtMs prints a latency in ms with two decimals below 10 ms, one below
// 100 ms and none above; "—" for NaN.
func fmtMs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// LatencyTable renders the latency runs, one row per strategy in the given
// order: trials, median, p90 and max latency over the trials that were not
// missed, missed trials, the watchdog's Snapshot counters, the worst
// run-queue wait of a trial (a slow vCPU, not a slow watchdog) and the
// memory.events "max" count. A run that did not finish gets its outcome.
func LatencyTable(results []BenchResult, strategies []string) string {
	var b strings.Builder
	b.WriteString("| strategy | trials | median (ms) | p90 (ms) | max (ms) | missed | watchdog events / samples / forced GCs | worst CPU wait in a trial (ms) | memory.events max |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, st := range strategies {
		for _, r := range results {
			if r.Strategy != st {
				continue
			}
			w := r.Result
			if r.Outcome != "survived" || w == nil {
				fmt.Fprintf(&b, "| %s | %s | — | — | — | — | — | — | %d |\n", st, r.Outcome, r.MaxEvents)
				continue
			}
			var lat []float64
			missed, wait := 0, 0.0
			for _, t := range w.Trials {
				if t.Missed {
					missed++
				} else {
					lat = append(lat, t.LatencyMs)
				}
				wait = max(wait, t.RunqWaitMs)
			}
			counters := "—"
			if w.Watchdog != nil {
				counters = fmt.Sprintf("%d / %d / %d", w.Watchdog["events"], w.Watchdog["samples"], w.Watchdog["forced_gcs"])
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d | %s | %.0f | %d |\n", st, len(w.Trials),
				fmtMs(percentile(lat, 0.5)), fmtMs(percentile(lat, 0.9)), fmtMs(percentile(lat, 1)), missed, counters, wait, r.MaxEvents)
		}
	}
	return b.String()
}

// EventSourceTable tells, per strategy, whether the cgroup v2 event sources
// fired in a scenario's runs, as init saw them from outside (Monitor): how
// many runs reached memory.max and when first (median ms from the run's
// start), then for each PSI trigger how many runs it fired in, its median
// number of fires per run, its median first fire, and in how many runs it
// fired before the first "max" event (or in a run that never reached
// memory.max). Runs without a Monitor are left out.
func EventSourceTable(results []BenchResult, scenario string, strategies []string) string {
	var triggers []string
	for _, r := range results {
		if r.Scenario == scenario && r.Monitor != nil && len(r.Monitor.PSI) > len(triggers) {
			triggers = triggers[:0]
			for _, p := range r.Monitor.PSI {
				triggers = append(triggers, p.Trigger)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| strategy | runs that hit memory.max (first, median ms) |")
	rule := "|---|---|"
	for _, t := range triggers {
		fmt.Fprintf(&b, " PSI %s: runs fired, fires/run, first ms, before max |", psiLabel(t))
		rule += "---|"
	}
	b.WriteString("\n" + rule + "\n")
	for _, st := range strategies {
		var runs []*Monitor
		for _, r := range results {
			if r.Scenario == scenario && r.Strategy == st && r.Monitor != nil && r.Outcome != "no-start" {
				runs = append(runs, r.Monitor)
			}
		}
		if len(runs) == 0 {
			continue
		}
		var hit []float64
		for _, m := range runs {
			if m.FirstMaxMs >= 0 {
				hit = append(hit, m.FirstMaxMs)
			}
		}
		fmt.Fprintf(&b, "| %s | %d/%d (%s) |", st, len(hit), len(runs), fmtMs(percentile(hit, 0.5)))
		for i := range triggers {
			var fired, early int
			var fires, first []float64
			for _, m := range runs {
				if i >= len(m.PSI) {
					continue
				}
				p := m.PSI[i]
				if p.Error != "" {
					continue
				}
				fires = append(fires, float64(p.Fires))
				if p.Fires > 0 {
					fired++
					first = append(first, p.FirstMs)
					if m.FirstMaxMs < 0 || p.FirstMs < m.FirstMaxMs {
						early++
					}
				}
			}
			if len(fires) == 0 {
				b.WriteString(" not armed |")
				continue
			}
			fmt.Fprintf(&b, " %d/%d, %g, %s, %d |", fired, len(fires), median(fires), fmtMs(percentile(first, 0.5)), early)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// psiLabel writes a PSI trigger ("some 150000 2000000": stall and window in
// microseconds) as "some 150 ms in 2000 ms", for the report.
func psiLabel(trigger string) string {
	var kind string
	var stall, window int64
	if n, err := fmt.Sscanf(trigger, "%s %d %d", &kind, &stall, &window); err != nil || n != 3 {
		return "`" + trigger + "`"
	}
	return fmt.Sprintf("%s %d ms in %d ms", kind, stall/1000, window/1000)
}
