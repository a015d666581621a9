package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeLib makes a directory that looks like a copy of the library.
func fakeLib(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module github.com/raulk/go-watchdog\n\ngo 1.21.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseVariant(t *testing.T) {
	lib := fakeLib(t)
	st, err := parseVariant("no-trend=" + lib)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "no-trend" || st.Build != "lib-no-trend" || st.Flag != "watchdog" || st.Lib != lib {
		t.Errorf("parsed %+v", st)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644)
	for _, bad := range []string{"no-trend", "=" + lib, "x=", "this=" + lib, "none-aa=" + lib, "a:b=" + lib, "a,b=" + lib, "x=" + other, "x=" + filepath.Join(lib, "missing")} {
		if _, err := parseVariant(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var vl variantList
	if err := vl.Set("aa=" + lib); err != nil {
		t.Fatal(err)
	}
	if err := vl.Set("aa=" + lib); err == nil {
		t.Error("a variant given twice was accepted")
	}
}

func TestPickStrategiesVariants(t *testing.T) {
	lib := fakeLib(t)
	aa, _ := parseVariant("aa=" + lib)
	b, _ := parseVariant("b=" + lib)
	names := func(ss []strategy) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	for _, tt := range []struct{ list, want string }{
		{"", "none,gomemlimit,v130,this,aa,b"}, // after the defaults
		{"this", "this,aa,b"},                  // after the list
		{"b,this,aa", "b,this,aa"},             // where the list names them
		{"this,this:watchdog-poll", "this,this-watchdog-poll,aa,b"},
	} {
		got, err := pickStrategies(tt.list, aa, b)
		if err != nil || names(got) != tt.want {
			t.Errorf("%q: %s (%v), want %s", tt.list, names(got), err, tt.want)
		}
	}
	if got, _ := pickStrategies(""); names(got) != "none,gomemlimit,v130,this" || len(strategies) != 4 {
		t.Errorf("without variants: %s; table %d long", names(got), len(strategies))
	}
	if _, err := pickStrategies("c", aa); err == nil {
		t.Error("an unknown name was accepted")
	}
}

// TestLibModfile checks the modfile a variant is built with: the bench
// module's requirements, with the library replaced by the variant's copy.
func TestLibModfile(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	benchDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	lib := fakeLib(t)
	st, err := parseVariant("x=" + lib)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod, err := libModfile(context.Background(), benchDir, dir, st)
	if err != nil {
		t.Fatal(err)
	}
	if mod != filepath.Join(dir, "lib-x.mod") {
		t.Errorf("modfile %s", mod)
	}
	got, _ := os.ReadFile(mod)
	if !strings.Contains(string(got), "replace github.com/raulk/go-watchdog => "+lib+"\n") || strings.Contains(string(got), "=> ../") {
		t.Errorf("modfile's replace:\n%s", got)
	}
	if !strings.Contains(string(got), "module github.com/raulk/go-watchdog/bench\n") {
		t.Errorf("modfile's module line:\n%s", got)
	}
	want, _ := os.ReadFile(filepath.Join(benchDir, "go.sum"))
	sum, _ := os.ReadFile(filepath.Join(dir, "lib-x.sum"))
	if string(sum) != string(want) {
		t.Error("the .sum beside the modfile is not the bench module's go.sum")
	}
	// The bench module's own go.mod is untouched.
	orig, _ := os.ReadFile(filepath.Join(benchDir, "go.mod"))
	if !strings.Contains(string(orig), "replace github.com/raulk/go-watchdog => ../\n") {
		t.Error("go.mod changed")
	}
}

func TestCSVCounters(t *testing.T) {
	if got := csvCounters(map[string]uint64{"reserve_mib": 16, "beyond_gc": 1, "forced_gcs": 0}); got != "beyond_gc=1 forced_gcs=0 reserve_mib=16" {
		t.Errorf("counters %q", got)
	}
	if got := csvCounters(nil); got != "" {
		t.Errorf("no counters: %q", got)
	}
}
