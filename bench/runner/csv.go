package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// writeCSVs writes sampling.csv when there are sampling results, and
// runs.csv and usage.csv when the survival benchmarks ran.
func writeCSVs(dir string, survivalRan bool, all []runResult, sampling []benchLine) error {
	runs := [][]string{{"scenario", "strategy", "run", "outcome", "detail", "oom_kills", "peak_bytes", "wall_s", "gc_cpu_fraction", "gc_cpu_s", "gc_idle_s", "gcs", "forced_gcs", "churned_mib", "read_mib",
		"peak_less_clean_cache_bytes", "phase_wall_s", "phase_cpu_s", "phase_gcs", "phase_forced_gcs", "phase_gc_cpu_s", "phase_gc_idle_s", "phase_alloc_mib", "phase_gc_ms_per_gib", "cache_active_mib", "cache_inactive_mib",
		"cap_bytes", "written_mib", "phase_scav_cpu_s", "scavenged_kib", "scavtrace_lines", "cut_to_bytes", "cut_applied", "cut_at_s", "cut_tries", "cut_error", "watchdog"}}
	usage := [][]string{{"scenario", "strategy", "run", "t_s", "usage_bytes", "clean_file_cache_bytes"}}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return g(*v)
	}
	for _, r := range all {
		row := []string{r.Scenario, r.Strategy, strconv.Itoa(r.Run), r.Outcome, r.Detail, u(r.OOMKills), u(r.Peak), fmtF(r.Wall.Seconds(), 3)}
		if r.Res != nil {
			row = append(row, g(r.Res.GCCPUFraction), g(r.Res.GCCPUSeconds), g(r.Res.GCIdleSeconds), u(r.Res.GCs), u(r.Res.ForcedGCs), u(r.Res.ChurnedMiB), u(r.Res.ReadMiB))
		} else {
			row = append(row, "", "", "", "", "", "", "")
		}
		peakLess := ""
		if r.CacheSampled {
			peakLess = u(r.PeakLessCache)
		}
		row = append(row, peakLess)
		if ph := r.phase(); ph != nil {
			row = append(row, g(ph.WallSeconds), g(ph.CPUSeconds), u(ph.GCs), u(ph.ForcedGCs), g(ph.GCCPUSeconds), g(ph.GCIdleSeconds), g(ph.AllocMiB), g(gcMsPerGiB(ph)), opt(r.Res.CacheActiveMiB), opt(r.Res.CacheInactiveMiB))
		} else {
			row = append(row, "", "", "", "", "", "", "", "", "", "")
		}
		row = append(row, u(r.CapBytes))
		if r.Res != nil {
			row = append(row, u(r.Res.WrittenMiB))
		} else {
			row = append(row, "")
		}
		if ph := r.phase(); ph != nil {
			row = append(row, g(ph.ScavCPUSeconds))
		} else {
			row = append(row, "")
		}
		if r.ScavTraced {
			row = append(row, u(r.ScavKiB), strconv.Itoa(r.ScavLines))
		} else {
			row = append(row, "", "")
		}
		if r.CutTo > 0 {
			at := ""
			if r.CutApplied {
				at = fmtF(r.CutAt.Seconds(), 3)
			}
			row = append(row, u(r.CutTo), strconv.FormatBool(r.CutApplied), at, strconv.Itoa(r.CutTries), r.CutErr)
		} else {
			row = append(row, "", "", "", "", "")
		}
		if r.Res != nil {
			row = append(row, csvCounters(r.Res.Watchdog))
		} else {
			row = append(row, "")
		}
		runs = append(runs, row)
		for _, s := range r.Samples {
			clean := ""
			if r.CacheSampled {
				clean = u(s.Clean)
			}
			usage = append(usage, []string{r.Scenario, r.Strategy, strconv.Itoa(r.Run), fmtF(s.At.Seconds(), 3), u(s.Bytes), clean})
		}
	}
	files := map[string][][]string{}
	if survivalRan {
		files["runs.csv"], files["usage.csv"] = runs, usage
	}
	if len(sampling) > 0 {
		rows := [][]string{{"benchmark", "library", "n", "ns_per_op", "bytes_per_op", "allocs_per_op"}}
		for _, b := range sampling {
			rows = append(rows, []string{b.Name, b.Subject, strconv.FormatInt(b.N, 10), strconv.FormatFloat(b.NsPerOp, 'g', -1, 64), strconv.FormatFloat(b.BPerOp, 'g', -1, 64), strconv.FormatFloat(b.Allocs, 'g', -1, 64)})
		}
		files["sampling.csv"] = rows
	}
	for name, rows := range files {
		if err := writeCSV(filepath.Join(dir, name), rows); err != nil {
			return err
		}
	}
	return nil
}

// csvCounters formats the watchdog's counters at exit (this library's
// builds only) as "key=value" pairs by key, separated by spaces.
func csvCounters(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// writeCSV writes rows to path as CSV.
func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := csv.NewWriter(f).WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
