package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// survivedRun is a run that survived with the given phase figures.
func survivedRun(run int, wall, cpu, gcCPU float64, gcs uint64, peakMiB, lessMiB uint64) runResult {
	return runResult{
		Run: run, Outcome: survived, Peak: peakMiB * mib, PeakLessCache: lessMiB * mib, Wall: time.Second,
		Res: &workloadResult{Phase: &phaseResult{WallSeconds: wall, CPUSeconds: cpu, GCCPUSeconds: gcCPU, GCs: gcs, AllocMiB: 1024}},
	}
}

func killedRun(run int) runResult {
	return runResult{Run: run, Outcome: oomKilled, Peak: capMiB * mib, PeakLessCache: capMiB * mib, Wall: time.Second}
}

func testReport(sc scenario, byStrat map[string][]runResult) *report {
	r := &report{Scenarios: []scenario{sc}, Cells: map[string][]cell{}}
	for _, name := range []string{"none", "none-aa", "gomemlimit", "v130", "this"} {
		if runs, ok := byStrat[name]; ok {
			r.Cells[sc.Name] = append(r.Cells[sc.Name], summarise(strategy{Name: name}, runs))
		}
	}
	return r
}

// find returns the row of goal (a prefix of its label), failing if absent.
func find(t *testing.T, rows []goalRow, goal string) goalRow {
	t.Helper()
	for _, g := range rows {
		if strings.HasPrefix(g.Goal, goal) {
			return g
		}
	}
	t.Fatalf("no %q row in %+v", goal, rows)
	return goalRow{}
}

func TestGoalsUnpaced(t *testing.T) {
	sc := scenario{Name: "activecache", CacheFile: true, Unpaced: true}
	r := testReport(sc, map[string][]runResult{
		// none lost one run: still the baseline in the unpaced scenario.
		"none":       {survivedRun(1, 1.0, 1.2, 0.010, 200, 256, 100), killedRun(2), survivedRun(3, 1.2, 1.4, 0.012, 210, 256, 110)},
		"gomemlimit": {survivedRun(1, 1.0, 1.0, 0.020, 150, 256, 90), survivedRun(2, 1.0, 1.0, 0.020, 150, 256, 90), survivedRun(3, 1.0, 1.0, 0.020, 150, 256, 90)},
		"this":       {survivedRun(1, 1.3, 1.5, 0.021, 300, 256, 120), survivedRun(2, 1.2, 1.5, 0.0205, 310, 256, 244), survivedRun(3, 1.2, 1.5, 0.021, 320, 256, 130)},
	})
	rows := r.goals()

	if g := find(t, rows, "survives"); g.Verdict != met || g.This != "3/3" {
		t.Errorf("survives: %+v", g)
	}
	// Highest run's peak less clean cache: 244 MiB of 256 is 95.3 %.
	if g := find(t, rows, "peak less clean cache"); g.Verdict != notMet || g.Value != "95.3 %" {
		t.Errorf("peak: %+v", g)
	}
	// Median wall 1.2 s against none's median over its 2 survivors, 1.1 s.
	g := find(t, rows, "wall vs none")
	if g.Value != "1.091x" || g.Verdict != met || !strings.Contains(g.Goal, "none survived 2/3") || strings.Contains(g.Goal, "paced") {
		t.Errorf("wall: %+v", g)
	}
	if g.This != "1.20 [1.20–1.30] s" || g.Base != "1.10 [1.00–1.20] s" {
		t.Errorf("wall spreads: this %q, base %q", g.This, g.Base)
	}
	// CPU: 1.5 s against 1.3 s.
	if g := find(t, rows, "CPU vs none"); g.Value != "1.154x" || g.Verdict != notMet || g.Bound != "≤ 1.10x (proposed)" {
		t.Errorf("CPU: %+v", g)
	}
	// GC CPU: 21 ms/GiB against 20.
	if g := find(t, rows, "GC CPU vs gomemlimit"); g.Value != "1.050x" || g.Verdict != met {
		t.Errorf("GC CPU: %+v", g)
	}
	// GC share of the process's CPU: 0.021/1.5 = 1.40 % against 0.020/1.0 = 2.00 %.
	if g := find(t, rows, "GC share of process CPU"); g.Verdict != info || g.Value != "0.700x" || g.This != "1.40 [1.37–1.40] %" {
		t.Errorf("GC share: %+v", g)
	}
	if g := find(t, rows, "GC cycles vs gomemlimit"); g.Verdict != info || g.Value != "2.067x" {
		t.Errorf("GC cycles: %+v", g)
	}
	if got := goalTally(rows); got != "Goals: 3 met, 2 not met (activecache peak less clean cache / cap; activecache CPU vs none (none survived 2/3))." {
		t.Errorf("tally %q", got)
	}
}

func TestGoalsPacedBaselineLostARun(t *testing.T) {
	sc := scenario{Name: "spike"}
	r := testReport(sc, map[string][]runResult{
		"none":       {killedRun(1), survivedRun(2, 6, 1, 0.01, 50, 200, 0)},
		"gomemlimit": {survivedRun(1, 6, 1, 0.01, 50, 200, 0), killedRun(2)},
		"this":       {survivedRun(1, 6, 1, 0.02, 50, 230, 0), killedRun(2)},
	})
	rows := r.goals()
	for _, g := range rows {
		if strings.Contains(g.Goal, " vs ") {
			t.Errorf("a paced scenario whose baseline lost a run has no ratio rows, got %+v", g)
		}
	}
	if g := find(t, rows, "survives"); g.Verdict != notMet {
		t.Errorf("survives: %+v", g)
	}
	// Not file-cached: the kernel's peak, and a killed run peaks at the cap.
	if g := find(t, rows, "peak / cap"); g.Value != "100.0 %" || g.Verdict != notMet {
		t.Errorf("peak: %+v", g)
	}
}

func TestGoalsThisNeverSurvived(t *testing.T) {
	sc := scenario{Name: "heaponly"}
	r := testReport(sc, map[string][]runResult{
		"none": {survivedRun(1, 6, 1, 0.01, 50, 190, 0)},
		"this": {killedRun(1)},
	})
	g := find(t, r.goals(), "wall vs none (paced)")
	if g.Value != "—" || g.Verdict != notMet || g.This != "—" {
		t.Errorf("wall without survivors: %+v", g)
	}
}

func TestGoalsMarkdown(t *testing.T) {
	sc := scenario{Name: "heaponly"}
	r := testReport(sc, map[string][]runResult{
		"none": {survivedRun(1, 6, 1, 0.01, 50, 190, 0)},
		"this": {survivedRun(1, 6, 1.5, 0.01, 50, 190, 0)},
	})
	var b bytes.Buffer
	r.writeGoals(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	for _, want := range []string{
		"| heaponly | CPU vs none | 1.50 s | 1.00 s | 1.500x | ≤ 1.10x (proposed) | **not met** |",
		"| heaponly | wall vs none (paced) | 6.00 s | 6.00 s | 1.000x | ≤ 1.10x | met |",
		"Goals: 3 met, 1 not met (heaponly CPU vs none).",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("goals markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestCleanFileCache(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "memory.stat"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cache 9\nactive_file 1\ntotal_active_file 1000\ntotal_inactive_file 500\ntotal_dirty 100\ntotal_writeback 50\n")
	if got, err := cleanFileCache(dir); err != nil || got != 1350 {
		t.Errorf("cleanFileCache = %d, %v; want 1350 (hierarchical fields, less dirty and writeback)", got, err)
	}
	write("total_active_file 10\ntotal_inactive_file 10\ntotal_dirty 30\ntotal_writeback 0\n")
	if got, err := cleanFileCache(dir); err != nil || got != 0 {
		t.Errorf("more dirty than file pages: %d, %v; want 0", got, err)
	}
	write("total_active_file 10\ntotal_inactive_file 10\n")
	if _, err := cleanFileCache(dir); err == nil || !strings.Contains(err.Error(), "total_dirty") {
		t.Errorf("missing fields: err %v", err)
	}
	write("total_active_file x\ntotal_inactive_file 10\ntotal_dirty 0\ntotal_writeback 0\n")
	if _, err := cleanFileCache(dir); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad value: err %v", err)
	}
}

func TestDiskBacked(t *testing.T) {
	if err := diskBacked("/dev/shm"); err == nil || !strings.Contains(err.Error(), "tmpfs") {
		if _, statErr := os.Stat("/dev/shm"); statErr == nil {
			t.Errorf("diskBacked(/dev/shm) = %v, want a tmpfs error", err)
		}
	}
	if err := diskBacked("/nonexistent-wdbench"); err == nil {
		t.Error("diskBacked of a missing directory: no error")
	}
}

func TestReadableVersionsNamesNoRevision(t *testing.T) {
	got := readableVersions("github.com/containerd/cgroups v0.0.0-20201119153540-4cbc285b3327\ngithub.com/elastic/gosigar v0.12.0")
	want := "github.com/containerd/cgroups of 2020-11-19 (the pseudo-version in go.v130.mod), github.com/elastic/gosigar v0.12.0"
	if got != want {
		t.Fatalf("readableVersions = %q; want %q", got, want)
	}
}
