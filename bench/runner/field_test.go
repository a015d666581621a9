package main

import (
	"strings"
	"testing"
	"time"
)

// The goal rules of the field scenarios (goalsNoWorse, goalsCut,
// goalsIdle), the A/A bound, and the runner plumbing they need.

func TestAABound(t *testing.T) {
	none := summarise(strategy{Name: "none"}, []runResult{survivedRun(1, 6.0, 1, 0, 20, 0, 0), survivedRun(2, 6.1, 1, 0, 21, 0, 0), survivedRun(3, 6.0, 1, 0, 20, 0, 0)})
	aa := summarise(strategy{Name: "none-aa"}, []runResult{survivedRun(1, 6.2, 1, 0, 20, 0, 0), survivedRun(2, 6.0, 1, 0, 20, 0, 0), survivedRun(3, 6.1, 1, 0, 22, 0, 0), killedRun(4)})
	// Wall: medians 6.0 and 6.1 (A/A 1.0167x); pooled median 6.05, highest
	// run 6.2 (1.0248x): the bound is the larger.
	bound, aaR, hiR, ok := aaBound(none, aa, figWall)
	if !ok || fmtF(bound, 4) != "1.0248" || fmtF(aaR, 4) != "1.0167" || fmtF(hiR, 4) != "1.0248" {
		t.Errorf("wall bound %v (A/A %v, high %v, ok %v)", bound, aaR, hiR, ok)
	}
	// GC cycles: medians 20 and 20, pooled median 20, highest 22: 1.1x.
	if bound, _, _, _ := aaBound(none, aa, figGCs); fmtF(bound, 3) != "1.100" {
		t.Errorf("GC cycles bound %v", bound)
	}
	// A second column faster than the first counts the other way round.
	fast := summarise(strategy{Name: "none-aa"}, []runResult{survivedRun(1, 5.0, 1, 0, 20, 0, 0)})
	if bound, aaR, _, _ := aaBound(none, fast, figWall); fmtF(aaR, 4) != "0.8333" || fmtF(bound, 3) != "1.200" {
		t.Errorf("faster A/A column: bound %v, ratio %v; want 6.0/5.0", bound, aaR)
	}
	if _, _, _, ok := aaBound(none, summarise(strategy{Name: "none-aa"}, []runResult{killedRun(1)}), figWall); ok {
		t.Error("an A/A column without survivors gave a bound")
	}
}

func TestGoalsNoWorse(t *testing.T) {
	sc := scenario{Name: "filewriter", WriteFile: true, AA: true, Goals: goalsNoWorse}
	withForced := func(r runResult, n uint64) runResult { r.Res.Phase.ForcedGCs = n; return r }
	r := testReport(sc, map[string][]runResult{
		"none":    {survivedRun(1, 6.00, 1, 0, 20, 0, 0), survivedRun(2, 6.02, 1, 0, 21, 0, 0), survivedRun(3, 6.01, 1, 0, 20, 0, 0)},
		"none-aa": {survivedRun(1, 6.01, 1, 0, 20, 0, 0), survivedRun(2, 6.03, 1, 0, 20, 0, 0), survivedRun(3, 6.00, 1, 0, 21, 0, 0)},
		// Within the wall bound (6.02 vs 6.01), not the GC one (30 vs 20).
		"this": {withForced(survivedRun(1, 6.02, 2, 0, 30, 0, 0), 9), withForced(survivedRun(2, 6.01, 2, 0, 31, 0, 0), 10), killedRun(3)},
	})
	rows := r.goals()
	for _, g := range rows {
		if strings.HasPrefix(g.Goal, "peak") || strings.Contains(g.Goal, "gomemlimit") {
			t.Errorf("a field scenario has issue 8's row %+v", g)
		}
	}
	if g := find(t, rows, "survives ≥ none"); g.Verdict != notMet || g.This != "2/3" || g.Base != "3/3" {
		t.Errorf("survival: %+v", g)
	}
	// Wall: this median 6.015 over none's 6.01 = 1.001x; bound: A/A 6.01/6.01,
	// highest run 6.03 over pooled median 6.01 = 1.0033x.
	g := find(t, rows, "wall vs none (paced) (A/A)")
	if g.Verdict != met || g.Value != "1.001x" || !strings.HasPrefix(g.Bound, "≤ 1.003x") {
		t.Errorf("wall: %+v", g)
	}
	// GC cycles: 30.5 over 20 against a bound of 21/20.
	if g := find(t, rows, "GC cycles vs none (A/A)"); g.Verdict != notMet || g.Value != "1.525x" || !strings.HasPrefix(g.Bound, "≤ 1.050x") {
		t.Errorf("GC cycles: %+v", g)
	}
	if g := find(t, rows, "forced GCs vs none"); g.Verdict != info || g.This != "10 [9–10]" || g.Base != "0 [0–0]" {
		t.Errorf("forced GCs: %+v", g)
	}
	if got := goalTally(rows); got != "Goals: 1 met, 2 not met (filewriter survives ≥ none; filewriter GC cycles vs none (A/A))." {
		t.Errorf("tally %q", got)
	}

	// Without the A/A column the rows stay, with no bound.
	r = testReport(scenario{Name: "activecache-small", CacheFile: true, Unpaced: true, AA: true, ScavTrace: true, Goals: goalsNoWorse}, map[string][]runResult{
		"none": {survivedRun(1, 10, 7, 0, 200, 0, 0)},
		"this": {survivedRun(1, 11, 7, 0, 200, 0, 0)},
	})
	rows = r.goals()
	if g := find(t, rows, "wall vs none (A/A)"); g.Verdict != info || g.Value != "1.100x" || !strings.Contains(g.Bound, "no none-aa") {
		t.Errorf("wall without none-aa: %+v", g)
	}
	find(t, rows, "scavenger CPU vs none")
	find(t, rows, "scavenged (scavtrace) vs none")

	// Without AA (limitcut-start48): survival only.
	r = testReport(scenario{Name: "limitcut-start48", Goals: goalsNoWorse}, map[string][]runResult{
		"none": {killedRun(1)},
		"this": {survivedRun(1, 6, 1, 0, 300, 0, 0)},
	})
	rows = r.goals()
	if len(rows) != 1 || rows[0].Goal != "survives ≥ none" || rows[0].Verdict != met {
		t.Errorf("limitcut-start48 rows: %+v", rows)
	}
}

func TestGoalsCut(t *testing.T) {
	cutRun := func(r runResult, took bool) runResult {
		r.CutTo, r.CutApplied, r.CutTries = 48*mib, took, 1
		if took {
			r.CutAt = 2 * time.Second
		}
		return r
	}
	sc := scenario{Name: "limitcut", Cut: &limitCut{After: 2 * time.Second, ToMiB: 48}, Goals: goalsCut, Versus: "limitcut-start48"}
	start48 := scenario{Name: "limitcut-start48", CapMiB: 48, Goals: goalsNoWorse}
	r := testReport(sc, map[string][]runResult{
		"none": {cutRun(killedRun(1), true), cutRun(killedRun(2), true)},
		// The second run survived only because the cut never took.
		"this": {cutRun(survivedRun(1, 6, 1, 0, 300, 0, 0), true), cutRun(survivedRun(2, 6, 1, 0, 300, 0, 0), false)},
	})
	// Without limitcut-start48 in the report there is no bar.
	if g := find(t, r.goals(), "survives the cut"); g.Verdict != info || g.This != "1/2 (cut took in 1)" || !strings.Contains(g.Bound, "run limitcut-start48 too") {
		t.Errorf("cut without its bar: %+v", g)
	}
	r.Scenarios = append(r.Scenarios, start48)
	r.Cells[start48.Name] = []cell{summarise(strategy{Name: "this"}, []runResult{survivedRun(1, 6, 1, 0, 300, 0, 0), survivedRun(2, 6, 1, 0, 300, 0, 0)})}
	rows := r.goals()
	if g := find(t, rows, "survives the cut"); g.Verdict != notMet || g.Base != "2/2 in limitcut-start48" {
		t.Errorf("cut: %+v", g)
	}
	if g := find(t, rows, "survives ≥ none"); g.Verdict != met {
		t.Errorf("survival: %+v", g)
	}
	// Both runs survived with the cut taken: met.
	r.Cells[sc.Name][1] = summarise(strategy{Name: "this"}, []runResult{cutRun(survivedRun(1, 6, 1, 0, 300, 0, 0), true), cutRun(survivedRun(2, 6, 1, 0, 300, 0, 0), true)})
	if g := find(t, r.goals(), "survives the cut"); g.Verdict != met || g.This != "2/2 (cut took in 2)" {
		t.Errorf("cut, all taken: %+v", g)
	}
	if got := cutColumn(r.Cells[sc.Name][1]); got != "2/2, 2.00 s" {
		t.Errorf("cut column %q", got)
	}
}

func TestGoalsIdle(t *testing.T) {
	sc := scenario{Name: "idle", CapMiB: 512, Goals: goalsIdle}
	r := testReport(sc, map[string][]runResult{
		"none": {survivedRun(1, 20, 0.004, 0, 0, 0, 0)},
		"v130": {survivedRun(1, 20, 0.050, 0, 0, 0, 0), survivedRun(2, 20, 0.060, 0, 0, 0, 0)},
		"this": {survivedRun(1, 20, 0.055, 0, 0, 0, 0), survivedRun(2, 20, 0.056, 0, 0, 0, 0)},
	})
	rows := r.goals()
	// 55.5 ms against 55 ms: over 1.00x.
	if g := find(t, rows, "idle CPU vs v130"); g.Verdict != notMet || g.Value != "1.009x" || g.Bound != "≤ 1.00x" || g.This != "55.5 [55.0–56.0] ms" {
		t.Errorf("idle vs v130: %+v", g)
	}
	if g := find(t, rows, "idle CPU vs none"); g.Verdict != info {
		t.Errorf("idle vs none: %+v", g)
	}
	r.Cells[sc.Name][1] = summarise(strategy{Name: "v130"}, []runResult{survivedRun(1, 20, 0.0555, 0, 0, 0, 0)})
	if g := find(t, r.goals(), "idle CPU vs v130"); g.Verdict != met {
		t.Errorf("equal idle CPU: %+v", g)
	}
}

func TestScenarioStrategies(t *testing.T) {
	sel, err := pickStrategies("")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ss []strategy) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(scenario{AA: true}.strategies(sel)); got != "none,none-aa,gomemlimit,v130,this" {
		t.Errorf("AA: %s", got)
	}
	if got := names(scenario{Skip: []string{"gomemlimit"}}.strategies(sel)); got != "none,v130,this" {
		t.Errorf("Skip: %s", got)
	}
	// none-aa named by -strategies is not added twice; without none it is not added.
	sel, err = pickStrategies("none-aa,none,this")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(scenario{AA: true}.strategies(sel)); got != "none-aa,none,this" {
		t.Errorf("explicit none-aa: %s", got)
	}
	sel, _ = pickStrategies("this,v130")
	if got := names(scenario{AA: true}.strategies(sel)); got != "this,v130" {
		t.Errorf("no none: %s", got)
	}
	scens, err := pickScenarios("field,heaponly")
	if err != nil {
		t.Fatal(err)
	}
	var sn []string
	for _, s := range scens {
		sn = append(sn, s.Name)
	}
	if got := strings.Join(sn, ","); got != "filewriter,activecache-small,limitcut,limitcut-start48,idle,heaponly" {
		t.Errorf("field scenarios: %s", got)
	}
	// Every goalsCut scenario's bar exists, with the cut's limit.
	for _, s := range scenarios {
		if s.Goals != goalsCut {
			continue
		}
		vs, err := pickScenarios(s.Versus)
		if err != nil || s.Cut == nil || vs[0].capBytes() != s.endCapBytes() {
			t.Errorf("%s: Versus %q (%v), cut %+v", s.Name, s.Versus, err, s.Cut)
		}
	}
}

func TestScavCounter(t *testing.T) {
	var c scavCounter
	in := "2026/12/03 [watchdog] INFO started\nscav 1024 KiB work (bg), 512 KiB work (eager), 9000 KiB now, 91% util\nsc" +
		"av 0 KiB work (bg), 64 KiB work (eager), 9064 KiB now, 90% util (forced)\nscav nonsense\nscav 3 KiB work (bg), 1 KiB work (eager), 1 KiB now, 99% util"
	for _, chunk := range strings.SplitAfter(in, "sc") { // lines split across writes
		if n, err := c.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if c.kib != 1600 || c.lines != 2 {
		t.Errorf("before flush: %d KiB in %d lines; want 1600 in 2", c.kib, c.lines)
	}
	c.flush()
	if c.kib != 1604 || c.lines != 3 {
		t.Errorf("after flush: %d KiB in %d lines; want 1604 in 3", c.kib, c.lines)
	}
}

func TestWithGODEBUG(t *testing.T) {
	got := withGODEBUG([]string{"A=1", "GODEBUG=madvdontneed=1", "B=2"}, "scavtrace=1")
	if strings.Join(got, " ") != "A=1 B=2 GODEBUG=madvdontneed=1,scavtrace=1" {
		t.Errorf("merged: %q", got)
	}
	if got := withGODEBUG([]string{"A=1"}, "scavtrace=1"); strings.Join(got, " ") != "A=1 GODEBUG=scavtrace=1" {
		t.Errorf("new: %q", got)
	}
}

func TestColourOf(t *testing.T) {
	cells := []cell{{Strategy: strategy{Name: "none"}}, {Strategy: noneAA}, {Strategy: strategy{Name: "this"}}, {Strategy: strategy{Name: "this-watchdog-foo"}}, {Strategy: strategy{Name: "this-watchdog-bar"}}}
	want := []any{palette[0], noneAAColour, palette[3], palette[4], palette[5]}
	for i, w := range want {
		if got := colourOf(cells, i); got != w {
			t.Errorf("colour of %s: %v, want %v", cells[i].Strategy.Name, got, w)
		}
	}
}
