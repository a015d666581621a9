package main

import (
	"fmt"
	"strings"
)

// Which build of the workload a strategy runs.
const (
	buildThis = "this" // ./workload against this repository (go.mod's replace)
	buildV130 = "v130" // ./workload against go-watchdog v1.3.0 (go.v130.mod)
)

// strategy is one column of the survival results: a workload build and the
// -strategy value passed to it.
type strategy struct {
	Name  string // as shown in the results and used by -strategies
	Build string // buildThis or buildV130
	Flag  string // the workload's -strategy value
	Doc   string
}

// strategies is the default list, in table order. To benchmark a new option
// of this library: register a workload strategy in
// workload/strategies_this.go (e.g. "watchdog-foo") and add a row here
// (e.g. {"this-foo", buildThis, "watchdog-foo", "..."}); or, without editing
// this file, pass -strategies none,this,this:watchdog-foo.
var strategies = []strategy{
	{"none", buildThis, "none", "no memory management: GOGC=100, no limit"},
	{"gomemlimit", buildThis, "gomemlimit", "`debug.SetMemoryLimit(0.9 × cap)`"},
	{"v130", buildV130, "watchdog", "go-watchdog v1.3.0 `CgroupDriven(1s, NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95))`"},
	{"this", buildThis, "watchdog", "this repository's `CgroupDriven`, same policy and frequency"},
}

// noneAA is none again, as a second column: the A/A check of the
// scenarios whose goals are "within the A/A noise of none" (scenario.AA
// adds it; -strategies can name it too).
var noneAA = strategy{"none-aa", buildThis, "none", "none again, a second column of the same build and flag, run interleaved with the others: the A/A check that sets the noise bound of the goals marked A/A"}

// pickStrategies resolves a comma-separated -strategies value: names from
// the table, or BUILD:FLAG (e.g. this:watchdog-foo) for an ad-hoc column.
func pickStrategies(list string) ([]strategy, error) {
	if list == "" {
		return strategies, nil
	}
	var out []strategy
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if build, flag, ok := strings.Cut(name, ":"); ok {
			if build != buildThis && build != buildV130 {
				return nil, fmt.Errorf("strategy %q: build must be %q or %q", name, buildThis, buildV130)
			}
			out = append(out, strategy{Name: build + "-" + flag, Build: build, Flag: flag, Doc: fmt.Sprintf("workload `-strategy %s` built against %s", flag, build)})
			continue
		}
		found := false
		for _, s := range append(strategies[:len(strategies):len(strategies)], noneAA) {
			if s.Name == name {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown strategy %q (have %s, %s, or BUILD:FLAG)", name, strategyNames(), noneAA.Name)
		}
	}
	return out, nil
}

func strategyNames() string {
	var names []string
	for _, s := range strategies {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}
