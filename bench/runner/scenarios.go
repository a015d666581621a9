package main

import (
	"fmt"
	"strings"
	"time"
)

// capMiB is the memory cap of a run's cgroup, unless its scenario sets
// another (CapMiB).
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
	// ForcedByContract: the policy's watermarks are crossed as the heap
	// grows, and each crossing no GC has answered gets its forced GC, as in
	// v1.3.0; GC CPU is then held to v1.3.0's, not to GOMEMLIMIT's, which
	// forces none.
	ForcedByContract bool
	// WriteFile: the workload appends to its own file without syncing
	// (-write-file, a fresh path in the runner's temp dir per run, on disk).
	WriteFile bool

	// CapMiB is the group's limit at the start, if not capMiB.
	CapMiB int
	// Duration is the workload's -duration, if not the runner's -duration.
	Duration time.Duration
	// Cut lowers the group's limit during the run.
	Cut *limitCut
	// ScavTrace runs the workload with GODEBUG=scavtrace=1 and sums the
	// memory its scavenger reports released.
	ScavTrace bool
	// Skip names strategies of the selection this scenario does not run.
	Skip []string
	// AA adds an A/A column, none-aa (the none strategy again), after none
	// when none is selected: the goals in A/A noise of none need it.
	AA bool
	// Goals picks the goal rows of this's column (see goals.go).
	Goals goalSet
	// Versus names the scenario whose this column sets the survival bar of
	// a goalsCut scenario.
	Versus string
}

// limitCut lowers a group's limit After the start of the process to ToMiB
// (memory.limit_in_bytes, and memory.memsw.limit_in_bytes where the kernel
// has it). On cgroup v1 a limit below the group's usage fails with EBUSY
// when reclaim cannot bring usage under it; the runner then retries every
// cutRetry until it takes or the process exits, and records when it took.
type limitCut struct {
	After time.Duration
	ToMiB int
}

const cutRetry = 20 * time.Millisecond

// fileCached reports whether the group's page cache is part of the
// scenario, so its usage peak is mostly cache the kernel can drop.
func (s scenario) fileCached() bool { return s.PageFile || s.CacheFile || s.WriteFile }

// capBytes is the group's limit at the start of a run.
func (s scenario) capBytes() uint64 {
	if s.CapMiB > 0 {
		return uint64(s.CapMiB) * mib
	}
	return capMiB * mib
}

// endCapBytes is the group's limit at the end of a run whose cut took.
func (s scenario) endCapBytes() uint64 {
	if s.Cut != nil {
		return uint64(s.Cut.ToMiB) * mib
	}
	return s.capBytes()
}

// duration is the workload's -duration in this scenario.
func (s scenario) duration(flag time.Duration) time.Duration {
	if s.Duration > 0 {
		return s.Duration
	}
	return flag
}

// strategies returns the columns of this scenario from the selection: the
// selection less Skip, with none-aa after none when AA is set.
func (s scenario) strategies(sel []strategy) []strategy {
	var out []strategy
	hasAA := false
	for _, st := range sel {
		hasAA = hasAA || st.Name == noneAA.Name
	}
	for _, st := range sel {
		skip := false
		for _, name := range s.Skip {
			skip = skip || st.Name == name
		}
		if skip {
			continue
		}
		out = append(out, st)
		if s.AA && !hasAA && st.Name == "none" {
			out = append(out, noneAA)
		}
	}
	return out
}

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
		Name:             "heaponly",
		Doc:              "Heap only: an 88 MiB live heap and 600 MiB/s of garbage, which fits under the cap with GOGC=100 (no-regression check: nobody should die, and a watchdog should not add much GC work).",
		Args:             []string{"-live", "88", "-churn", "600"},
		ForcedByContract: true,
	},
	{
		Name: "pagecache",
		Doc: "A small heap (24 MiB live, 128 MiB/s of garbage, about 30 GC cycles in the phase) while a 384 MiB file (written before the run, outside the cgroup, and evicted from the page cache) is read over and over: the page cache fills the cgroup to its cap and the kernel reclaims it. " +
			"Nobody should die; forced GCs here are wasted work, since GC cannot free page cache.",
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

// The scenarios of field problems a watchdog must not make worse than no
// watchdog at all. Their goals (goalsNoWorse, goalsCut, goalsIdle) compare
// this with none, with itself at the smaller limit, or with v130.
var fieldScenarios = []scenario{
	{
		Name: "filewriter",
		Doc: "A steady file writer: during the churn one goroutine appends to a file on disk at 64 MiB/s and never syncs, beside a 60 MiB live heap and 200 MiB/s of paced garbage (about 20 GC cycles a run). " +
			"On cgroup v1 the dirty-page limits are the machine's (a share of 24 GiB here), not the group's, so the group fills to its cap with dirty pages (at times over 100 MiB) and pages under writeback, and the kernel's reclaim in the group waits for the flusher. " +
			"Dirty pages are not clean cache and GC cannot free them: a watchdog that counts them as usage forces GCs for nothing, and may slow the program. " +
			"Nobody dies without a watchdog. Goals: this survives as often as none; its wall time (paced: it only moves if the program falls behind) and GC cycles stay within the A/A noise of none; its forced GCs are shown.",
		Args:      []string{"-live", "60", "-churn", "200", "-write-mib", "64"},
		WriteFile: true,
		AA:        true,
		Goals:     goalsNoWorse,
	},
	{
		Name: "activecache-small",
		Doc: "Like activecache (a 190 MiB file written in the group, synced, read twice so it sits on the active file list, and a 40 MiB live heap), but the unpaced work is 8 GiB of small pointer-y objects: slices of 2 to 40 pointers (16 to 320 bytes), about 50 million allocations and 200 GC cycles a run. " +
			"This is the allocation shape of most Go servers; each GC cycle's cost here is per object, and the runtime's scavenger returns memory to the OS between cycles, so a watchdog that tightens the heap shows up as more cycles and more scavenging. " +
			"The run uses GODEBUG=scavtrace=1: the table shows the scavenger's CPU time in the phase (`/cpu/classes/scavenge/total`) and the memory it reported released over the whole run. " +
			"Goals: this survives as often as none; its wall time and GC cycles stay within the A/A noise of none.",
		Args:      []string{"-live", "40", "-cache-mib", "190", "-cache-reads", "2", "-unpaced-mib", "8192", "-small"},
		CacheFile: true,
		Unpaced:   true,
		ScavTrace: true,
		AA:        true,
		Goals:     goalsNoWorse,
	},
	{
		Name: "limitcut",
		Doc: "The group starts with a 1 GiB limit; the program builds a 26 MiB live heap and waits; 2 s after the start the runner lowers the limit to 48 MiB; 3.5 s after the start the program begins 300 MiB/s of paced garbage for the run's duration. " +
			"GOGC=100 alone needs about 64 MiB for that (26 MiB live, a heap goal twice that, the runtime beside it), so none is OOM-killed once the garbage starts; a watchdog that knows the limit is 48 MiB can keep the heap under it. " +
			"The program waits because on cgroup v1 a limit below the group's usage is refused (EBUSY) while reclaim cannot get under it, and a Go heap is anonymous memory, which reclaim cannot take without swap: cut while the garbage runs (usage about 64 MiB), the limit never takes (tried: EBUSY for 2 s, until the process exited). " +
			"The runner retries every 20 ms until the cut takes and records when it took; here it takes at once (usage is about 30 MiB), and the program's garbage starts 1.5 s later, time for a watchdog that re-reads the limit as it polls (1 s) to know it. " +
			"Goal: this survives the cut as often as it survives a start at 48 MiB (limitcut-start48, the same program), counting a run where the cut never took as not survived.",
		Args:   []string{"-live", "26", "-churn", "300", "-wait", "3.5s"},
		CapMiB: 1024,
		Cut:    &limitCut{After: 2 * time.Second, ToMiB: 48},
		Goals:  goalsCut,
		Versus: "limitcut-start48",
	},
	{
		Name:   "limitcut-start48",
		Doc:    "The program of limitcut in a group capped at 48 MiB from the start: the bar for limitcut. none is OOM-killed here too once the garbage starts.",
		Args:   []string{"-live", "26", "-churn", "300", "-wait", "3.5s"},
		CapMiB: 48,
		Goals:  goalsNoWorse,
	},
	{
		Name: "idle",
		Doc: "A program that does nothing for 20 s with a 50 MiB live heap, in a 512 MiB group: the measured phase is the idle time, and the figure is the process's CPU time over it (`getrusage`, user + system), the watchdog's polling included. " +
			"gomemlimit does nothing while idle and is not run. Goal: this's median idle CPU ≤ v130's.",
		Args:     []string{"-live", "50"},
		CapMiB:   512,
		Duration: 20 * time.Second,
		Skip:     []string{"gomemlimit"},
		Goals:    goalsIdle,
	},
}

func init() { scenarios = append(scenarios, fieldScenarios...) }

const pageFileMiB = 384

// pickScenarios resolves a comma-separated -scenarios value: scenario
// names, or "field" for the field scenarios (fieldScenarios).
func pickScenarios(list string) ([]scenario, error) {
	if list == "" {
		return scenarios, nil
	}
	var out []scenario
	for _, name := range strings.Split(list, ",") {
		if strings.TrimSpace(name) == "field" {
			out = append(out, fieldScenarios...)
			continue
		}
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
			return nil, fmt.Errorf("unknown scenario %q (have %s, or field for the last %d)", name, strings.Join(names, ", "), len(fieldScenarios))
		}
	}
	return out, nil
}
