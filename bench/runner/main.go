// Command runner runs the benchmarks and writes docs/benchmarks.md, the raw
// CSV files and the plots:
//
//	cd bench && go run ./runner -out ../docs         # what `make bench` runs (root, cgroup v1)
//	cd bench && go run ./runner -quick               # smoke test: 1 run per cell, short runs, output to a temp dir
//	cd bench && go run ./runner -only survival -scenarios field -runs 5 -out /tmp/field   # the field scenarios alone
//	cd bench && go run ./runner -only survival -strategies this -variant aa=/tmp/copy -variant foo=/tmp/patched   # A/B of library copies
//
// It runs the sampling-cost benchmarks (go test -bench ./sampling), then
// every scenario × strategy × run of the survival benchmarks: the workload
// (./workload, built once against this repository and once against v1.3.0)
// in a fresh memory-capped cgroup v1 group made with internal/cgtest; then
// the reaction latency experiment (latency.go), one workload run per
// strategy. Runs are sequential. Every group is removed, even on failure or
// Ctrl-C. -only picks some of the three parts, e.g. -only latency.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
}

func numCPU() int { return runtime.NumCPU() }

func mainErr() error {
	var (
		out        = flag.String("out", "", "output directory for benchmarks.md and bench/ (default ../docs, or a temp dir with -quick)")
		runs       = flag.Int("runs", 21, "runs per scenario × strategy cell (21: on a 2-core virtual machine a run's CPU figures move by up to 40 % with the machine's speed, and a median of 11 runs by up to 15 % between full runs)")
		duration   = flag.Duration("duration", 6*time.Second, "length of the paced churn in the paced scenarios (activecache and activecache-small are unpaced; idle is 20 s of idling whatever this says)")
		interval   = flag.Duration("interval", 50*time.Millisecond, "cgroup usage sampling interval")
		quick      = flag.Bool("quick", false, "smoke test: -runs 1, -duration 2s, -benchtime 100ms, -latency-trials 3")
		scenList   = flag.String("scenarios", "", "comma-separated scenarios, or field for filewriter, activecache-small, limitcut, limitcut-start48 and idle (default all)")
		stratList  = flag.String("strategies", "", "comma-separated strategies, or BUILD:FLAG for a workload -strategy value, e.g. this:watchdog-foo (default "+strategyNames()+")")
		benchtime  = flag.String("benchtime", "1s", "go test -benchtime for the sampling benchmarks")
		noSampling = flag.Bool("no-sampling", false, "skip the sampling-cost benchmarks")
		noSurvival = flag.Bool("no-survival", false, "skip the survival benchmarks")
		noLatency  = flag.Bool("no-latency", false, "skip the reaction latency experiment")
		only       = flag.String("only", "", "comma-separated parts to run, of sampling, survival, latency (default all; overrides -no-*)")
		latTrials  = flag.Int("latency-trials", 15, "crossings timed per strategy in the latency experiment")
		logDir     = flag.String("logs", "", "directory for each run's full stderr (the watchdog's log); default: none kept")
		variants   variantList
	)
	flag.Var(&variants, "variant", "NAME=DIR: a column NAME, the watchdog strategy with the workload built against the library copy in DIR (repeatable; added after -strategies unless it names them)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["runs"] {
			*runs = 1
		}
		if !set["duration"] {
			*duration = 2 * time.Second
		}
		if !set["benchtime"] {
			*benchtime = "100ms"
		}
		if !set["latency-trials"] {
			*latTrials = 3
		}
	}
	if *out == "" {
		*out = "../docs"
		if *quick {
			*out = filepath.Join(os.TempDir(), "wdbench-quick")
		}
	}
	if *runs < 1 || *latTrials < 1 {
		return errors.New("-runs and -latency-trials must be at least 1")
	}
	doSampling, doSurvival, doLatency := !*noSampling, !*noSurvival, !*noLatency
	if *only != "" {
		doSampling, doSurvival, doLatency = false, false, false
		for _, part := range strings.Split(*only, ",") {
			switch strings.TrimSpace(part) {
			case "sampling":
				doSampling = true
			case "survival":
				doSurvival = true
			case "latency":
				doLatency = true
			default:
				return fmt.Errorf("-only: unknown part %q (have sampling, survival, latency)", part)
			}
		}
	}
	scens, err := pickScenarios(*scenList)
	if err != nil {
		return err
	}
	strats, err := pickStrategies(*stratList, variants...)
	if err != nil {
		return err
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	benchDir, err := moduleDir()
	if err != nil {
		return err
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(outDir, "bench"), 0o755); err != nil {
		return err
	}

	rep := &report{
		Command:    "cd bench && go run ./runner " + strings.Join(os.Args[1:], " "),
		Started:    time.Now(),
		Quick:      *quick,
		Runs:       *runs,
		Duration:   *duration,
		Interval:   *interval,
		Machine:    machineInfo(),
		Scenarios:  scens,
		Strategies: strats,
		Cells:      map[string][]cell{},
		Plots:      map[string]string{},
	}
	rep.Versions = versions(ctx, benchDir)
	rep.Versions = append(rep.Versions, [2]string{"this library", treeState(ctx, benchDir)})
	for _, v := range variants {
		rep.Versions = append(rep.Versions, [2]string{"variant " + v.Name, v.Lib})
	}

	if doSampling {
		logf("sampling benchmarks (-benchtime %s)", *benchtime)
		rep.Sampling, rep.SamplingCmd, rep.SamplingErr = runSampling(ctx, benchDir, *benchtime)
		if rep.SamplingErr != nil {
			logf("sampling benchmarks failed: %v", rep.SamplingErr)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	var all []runResult
	if doSurvival || doLatency {
		if err := needCgroups(); err != nil {
			return err
		}
		if *logDir != "" {
			if err := os.MkdirAll(*logDir, 0o755); err != nil {
				return err
			}
		}
		tmp, err := os.MkdirTemp("", "wdbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		var need []strategy
		if doSurvival {
			need = append(need, strats...)
		}
		if doLatency {
			need = append(need, latencyStrategies...)
		}
		bins, err := buildWorkloads(ctx, benchDir, tmp, need)
		if err != nil {
			return err
		}
		if doSurvival {
			if all, err = survival(ctx, rep, bins, tmp, outDir, *logDir, scens, strats, *runs, *duration, *interval); err != nil {
				return err
			}
		}
		if doLatency {
			if rep.Latency, err = latency(ctx, bins, *logDir, *latTrials); err != nil {
				return err
			}
		}
	}

	rep.Took = time.Since(rep.Started)
	if err := writeCSVs(filepath.Join(outDir, "bench"), doSurvival, all, rep.Sampling); err != nil {
		return err
	}
	if err := writeLatencyCSV(filepath.Join(outDir, "bench"), rep.Latency); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(outDir, "benchmarks.md"))
	if err != nil {
		return err
	}
	if err := rep.writeMarkdown(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	logf("wrote %s in %s", filepath.Join(outDir, "benchmarks.md"), rep.Took.Round(time.Second))
	rep.logGoals()
	return nil
}

// moduleDir returns the directory of the bench module (the current one).
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(b), "module github.com/raulk/go-watchdog/bench\n") {
		return "", fmt.Errorf("run the runner from the bench module (cd bench && go run ./runner); the current module is %q", gomod)
	}
	return filepath.Dir(gomod), nil
}

// pseudoVersion matches a Go pseudo-version's date and revision suffix.
var pseudoVersion = regexp.MustCompile(`^v0\.0\.0-(\d{4})(\d{2})(\d{2})\d{6}-[0-9a-f]{12}$`)

// readableVersions joins "path version" lines with commas, writing a
// pseudo-version as the date of its revision: the report names no revision
// hash (it is v1.3.0's requirement, found again from go.v130.mod).
func readableVersions(lines string) string {
	var out []string
	for _, l := range strings.Split(lines, "\n") {
		if path, v, ok := strings.Cut(l, " "); ok {
			if m := pseudoVersion.FindStringSubmatch(v); m != nil {
				l = path + " of " + m[1] + "-" + m[2] + "-" + m[3] + " (the pseudo-version in go.v130.mod)"
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, ", ")
}

// versions lists the Go toolchain and the module versions being compared.
func versions(ctx context.Context, benchDir string) [][2]string {
	v := [][2]string{{"Go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}}
	list := func(extra []string, mods ...string) string {
		args := append(append([]string{"list"}, extra...), append([]string{"-m", "-f", "{{.Path}} {{.Version}}"}, mods...)...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = benchDir
		out, err := cmd.Output()
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		return readableVersions(strings.TrimSpace(string(out)))
	}
	v = append(v,
		[2]string{"v1.3.0 build", list([]string{"-modfile", "go.v130.mod"}, "github.com/raulk/go-watchdog")},
		[2]string{"v1.3.0's samplers", list([]string{"-modfile", "go.v130.mod"}, "github.com/containerd/cgroups", "github.com/elastic/gosigar")},
	)
	return v
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// treeState says what library was measured: this repository's work tree as
// it was on the date of the report, and whether it had uncommitted changes
// (read-only git commands). The report names no commit: a reader of the
// docs cannot look one up, and the date and the command reproduce it.
func treeState(ctx context.Context, benchDir string) string {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = benchDir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := git("rev-parse", "HEAD"); err != nil {
		return "this work tree (not a git checkout)"
	}
	state := "this repository on the report's date"
	if dirty, err := git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--", ".."); err == nil && dirty != "" {
		state += " with uncommitted changes"
	}
	return state
}
