package main

import (
	"fmt"
	"strings"
)

// capMiB is the memory cap of every run's cgroup.
const capMiB = 256

// scenario is one table of the survival results. Args are workload flags
// besides -strategy, -scenario and -duration. The sizes are calibrated for a
// 256 MiB cap: live data stays well under it in every scenario, so a
// strategy that keeps the garbage in check survives.
type scenario struct {
	Name     string
	Doc      string
	Args     []string
	PageFile bool // reads the shared page cache file (-file)
	// CacheFile: the workload writes and reads its own file (-cache-file, a
	// fresh path in the runner's temp dir per run, which must be on disk).
	CacheFile bool
	// Unpaced: the workload allocates a fixed amount as fast as it can, so
	// its wall time is the figure of merit (not the pace's length).
	Unpaced bool
}

// fileCached reports whether the group's page cache is part of the
// scenario, so its usage peak is mostly cache the kernel can drop.
func (s scenario) fileCached() bool { return s.PageFile || s.CacheFile }

var scenarios = []scenario{
	{
		Name: "offheap",
		Doc: "100 MiB of anonymous mmap'd memory (touched) beside an 80 MiB live heap and 600 MiB/s of short-lived garbage. " +
			"Live data is 180 MiB of 256; GOGC=100 lets the heap grow to about twice the live heap, which does not fit next to the mmap'd memory. " +
			"GOMEMLIMIT does not count the mmap'd memory.",
		Args: []string{"-offheap", "100", "-live", "80", "-churn", "600"},
	},
	{
		Name: "offheap-growing",
		Doc:  "Like offheap, but the mmap'd memory starts at 40 MiB and grows by 100 MiB (4 MiB steps) over the run, beside a 64 MiB live heap: at the end live data is 204 MiB of 256.",
		Args: []string{"-offheap", "40", "-offheap-grow", "100", "-live", "64", "-churn", "600"},
	},
	{
		Name: "spike",
		Doc:  "A 40 MiB live heap with 600 MiB/s of garbage, and every 2.5 s (first at 1.25 s) a spike of 96 MiB more live heap (built up over ~300 ms, held 1 s, released), like a compaction. Peak live data is 136 MiB of 256.",
		Args: []string{"-live", "40", "-spike", "96", "-churn", "600"},
	},
	{
		Name: "heaponly",
		Doc:  "Heap only: an 88 MiB live heap and 600 MiB/s of garbage, which fits under the cap with GOGC=100 (no-regression check: nobody should die, and a watchdog should not add much GC work).",
		Args: []string{"-live", "88", "-churn", "600"},
	},
	{
		Name: "pagecache",
		Doc: "A small heap (24 MiB live, 128 MiB/s of garbage, about 30 GC cycles in the phase) while a 384 MiB file (written before the run, outside the cgroup, and evicted from the page cache) is read over and over: the page cache fills the cgroup to its cap and the kernel reclaims it. " +
			"Nobody should die; forced GCs here are wasted work, since GC cannot free page cache. " +
			"(Before 7ab3347 the churn was 8 MiB/s: 3 GC cycles and about 2 ms of GC CPU a run, too little to compare.)",
		Args:     []string{"-live", "24", "-churn", "128"},
		PageFile: true,
	},
	{
		Name: "activecache",
		Doc: "A database-like program: inside the cgroup it writes a 190 MiB file (synced, on disk) and reads it twice, so its clean pages sit on the cgroup's *active* file list; " +
			"then it holds a 40 MiB live heap and allocates 8 GiB of short-lived garbage in 64 KiB pieces as fast as it can (unpaced). " +
			"Wall time here is that allocation phase alone, timed by the workload. The file cache is clean and the kernel drops it before any OOM kill: nobody should die, and a watchdog should not slow the program down. " +
			"Run it on a quiet machine: on a busy one, GC mark phases stretch while page faults wait for reclaim, everything allocated meanwhile is marked live, and even no watchdog's heap can run away to the cap.",
		Args:      []string{"-live", "40", "-cache-mib", "190", "-cache-reads", "2", "-unpaced-mib", "8192", "-piece-kib", "64"},
		CacheFile: true,
		Unpaced:   true,
	},
}

const pageFileMiB = 384

func pickScenarios(list string) ([]scenario, error) {
	if list == "" {
		return scenarios, nil
	}
	var out []scenario
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, s := range scenarios {
			if s.Name == strings.TrimSpace(name) {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			var names []string
			for _, s := range scenarios {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}
