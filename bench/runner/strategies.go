package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	Build string // buildThis, buildV130, or buildLib+Name for a -variant
	Flag  string // the workload's -strategy value
	Doc   string
	// Lib is the library directory a -variant builds the workload
	// against (a temporary modfile's replace), "" for the others.
	Lib string
}

// buildLib prefixes the build of a -variant column: the workload built as
// buildThis, but against another copy of the library.
const buildLib = "lib-"

// parseVariant reads a -variant value NAME=DIR: a column NAME running the
// workload's watchdog strategy built against the copy of this library in
// DIR (a module github.com/raulk/go-watchdog, e.g. a patched copy), for
// A/B comparisons with this; a plain copy gives an A/A column.
func parseVariant(spec string) (strategy, error) {
	name, dir, ok := strings.Cut(spec, "=")
	name, dir = strings.TrimSpace(name), strings.TrimSpace(dir)
	if !ok || name == "" || dir == "" {
		return strategy{}, fmt.Errorf("-variant %q: want NAME=DIR", spec)
	}
	if strings.ContainsAny(name, ",:/= ") {
		return strategy{}, fmt.Errorf("-variant %q: the name may not hold , : / = or a space", spec)
	}
	if name == noneAA.Name || hasStrategy(strategies, name) {
		return strategy{}, fmt.Errorf("-variant %q: %s is a built-in strategy", spec, name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return strategy{}, err
	}
	b, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module github.com/raulk/go-watchdog\n") {
		return strategy{}, fmt.Errorf("-variant %q: %s is not a copy of the library (no go.mod of github.com/raulk/go-watchdog)", spec, abs)
	}
	return strategy{Name: name, Build: buildLib + name, Flag: "watchdog", Lib: abs,
		Doc: fmt.Sprintf("this's `CgroupDriven` strategy, the workload built against the library in %s", abs)}, nil
}

// variantList is the repeatable -variant flag.
type variantList []strategy

func (v *variantList) String() string {
	var s []string
	for _, st := range *v {
		s = append(s, st.Name+"="+st.Lib)
	}
	return strings.Join(s, " ")
}

func (v *variantList) Set(spec string) error {
	st, err := parseVariant(spec)
	if err != nil {
		return err
	}
	if hasStrategy(*v, st.Name) {
		return fmt.Errorf("-variant %q: %s given twice", spec, st.Name)
	}
	*v = append(*v, st)
	return nil
}

// strategies is the default list, in table order. To benchmark a new option
// of this library: register a workload strategy in
// workload/strategies_this.go (e.g. "watchdog-foo") and add a row here
// (e.g. {"this-foo", buildThis, "watchdog-foo", "..."}); or, without editing
// this file, pass -strategies none,this,this:watchdog-foo.
var strategies = []strategy{
	{Name: "none", Build: buildThis, Flag: "none", Doc: "no memory management: GOGC=100, no limit"},
	{Name: "gomemlimit", Build: buildThis, Flag: "gomemlimit", Doc: "`debug.SetMemoryLimit(0.9 × cap)`"},
	{Name: "v130", Build: buildV130, Flag: "watchdog", Doc: "go-watchdog v1.3.0 `CgroupDriven(1s, NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95))`"},
	{Name: "this", Build: buildThis, Flag: "watchdog", Doc: "this repository's `CgroupDriven`, same policy and frequency"},
}

// noneAA is none again, as a second column: the A/A check of the
// scenarios whose goals are "within the A/A noise of none" (scenario.AA
// adds it; -strategies can name it too).
var noneAA = strategy{Name: "none-aa", Build: buildThis, Flag: "none", Doc: "none again, a second column of the same build and flag, run interleaved with the others: the A/A check that sets the noise bound of the goals marked A/A"}

// pickStrategies resolves a comma-separated -strategies value: names from
// the table or of variants, or BUILD:FLAG (e.g. this:watchdog-foo) for an
// ad-hoc column. Variants the list does not name come after it.
func pickStrategies(list string, variants ...strategy) ([]strategy, error) {
	out, err := pickNamed(list, variants)
	if err != nil {
		return nil, err
	}
	for _, v := range variants {
		if !hasStrategy(out, v.Name) {
			out = append(out, v)
		}
	}
	return out, nil
}

func pickNamed(list string, variants []strategy) ([]strategy, error) {
	if list == "" {
		return append([]strategy(nil), strategies...), nil
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
		for _, s := range append(append(strategies[:len(strategies):len(strategies)], noneAA), variants...) {
			if s.Name == name {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown strategy %q (have %s, %s, a -variant, or BUILD:FLAG)", name, strategyNames(), noneAA.Name)
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
