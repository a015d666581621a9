package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
)

// needCgroups checks that memory-capped cgroup v1 groups can be made here.
func needCgroups() error {
	if os.Geteuid() != 0 {
		return errors.New("the survival and latency benchmarks need root (cgroup v1 groups); run with -only sampling for the sampling benchmarks alone")
	}
	if ok, why := cgtest.Available(); !ok {
		return fmt.Errorf("cannot make memory-capped cgroups here: %s", why)
	}
	return nil
}

// buildWorkloads builds the workload once per build the strategies use, into
// dir, and returns the binaries by build.
func buildWorkloads(ctx context.Context, benchDir, dir string, strats []strategy) (map[string]string, error) {
	bins := map[string]string{}
	for _, st := range strats {
		if bins[st.Build] != "" {
			continue
		}
		bin := filepath.Join(dir, "workload-"+st.Build)
		args := []string{"build", "-o", bin}
		if st.Build == buildV130 {
			args = append(args, "-tags", "watchdog_v130", "-modfile", "go.v130.mod")
		}
		if st.Lib != "" {
			mod, err := libModfile(ctx, benchDir, dir, st)
			if err != nil {
				return nil, err
			}
			args = append(args, "-modfile", mod)
		}
		args = append(args, "./workload")
		logf("go %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = benchDir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building the %s workload: %w", st.Build, err)
		}
		bins[st.Build] = bin
	}
	return bins, nil
}

// libModfile writes dir/<build>.mod and .sum, copies of the bench module's
// go.mod and go.sum whose replace points at st.Lib, for go build -modfile.
func libModfile(ctx context.Context, benchDir, dir string, st strategy) (string, error) {
	mod := filepath.Join(dir, st.Build+".mod")
	for _, f := range [][2]string{{"go.mod", mod}, {"go.sum", strings.TrimSuffix(mod, ".mod") + ".sum"}} {
		b, err := os.ReadFile(filepath.Join(benchDir, f[0]))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(f[1], b, 0o644); err != nil {
			return "", err
		}
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-replace", "github.com/raulk/go-watchdog="+st.Lib, mod)
	cmd.Dir = benchDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go mod edit for %s: %w: %s", st.Name, err, out)
	}
	return mod, nil
}

// unpacedTimeout is the least time an unpaced run gets before it is killed
// as failed: over 100 times no watchdog's time on a quiet machine.
const unpacedTimeout = 2 * time.Minute

// survival runs every cell, with the workloads in bins; tmp is a scratch
// directory.
func survival(ctx context.Context, rep *report, bins map[string]string, tmp, outDir, logDir string, scens []scenario, strats []strategy, runs int, duration, interval time.Duration) ([]runResult, error) {
	pageFile := ""
	for _, sc := range scens {
		if sc.PageFile && pageFile == "" {
			pageFile = filepath.Join(tmp, "pagecache.dat")
			logf("writing %d MiB to %s", pageFileMiB, pageFile)
			if err := writePageFile(pageFile, pageFileMiB*mib); err != nil {
				return nil, err
			}
		}
	}
	if pageFile != "" {
		defer evict(pageFile) // leave no cache behind
	}
	for _, sc := range scens {
		if sc.CacheFile || sc.WriteFile {
			if err := diskBacked(tmp); err != nil {
				return nil, err
			}
			break
		}
	}

	const settle = 250 * time.Millisecond
	total := 0
	for _, sc := range scens {
		total += len(sc.strategies(strats)) * runs
	}
	done := 0
	var all []runResult
	for _, sc := range scens {
		strats := sc.strategies(strats)
		for _, st := range strats {
			if st.Name == noneAA.Name && !hasStrategy(rep.Strategies, st.Name) {
				rep.Strategies = append(rep.Strategies, st)
			}
		}
		capBytes := sc.capBytes()
		duration := sc.duration(duration)
		timeout := 3*duration + 30*time.Second
		byStrat := map[string][]runResult{}
		for run := 1; run <= runs; run++ {
			// Each run starts with the next strategy, so no strategy always
			// follows the same one (whose file removal, page cache and
			// cgroup teardown the kernel may still be finishing).
			for k := range strats {
				st := strats[(k+run-1)%len(strats)]
				args := append([]string{"-strategy", st.Flag, "-scenario", sc.Name, "-duration", duration.String()}, sc.Args...)
				if sc.PageFile {
					args = append(args, "-file", pageFile)
					if err := evict(pageFile); err != nil {
						return nil, fmt.Errorf("evicting %s from the page cache: %w", pageFile, err)
					}
				}
				cacheFile := ""
				if sc.CacheFile || sc.WriteFile {
					// The workload creates and removes it; this removes it
					// too in case the workload was killed.
					cacheFile = filepath.Join(tmp, fmt.Sprintf("%s-%s-%d.dat", sc.Name, st.Name, run))
					flag := "-cache-file"
					if sc.WriteFile {
						flag = "-write-file"
					}
					args = append(args, flag, cacheFile)
				}
				// Let the kernel finish tearing down the previous group
				// (it frees its pages asynchronously) before the next starts.
				time.Sleep(settle)
				limit := timeout
				if sc.Unpaced {
					// A slow strategy's run should end with its time, not a
					// time-out: the slowdown is what is measured.
					limit = max(timeout, unpacedTimeout)
				}
				res, err := runOnce(ctx, sc, st, run, bins[st.Build], args, capBytes, interval, limit, logDir)
				done++
				if cacheFile != "" {
					if rerr := os.Remove(cacheFile); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
						err = rerr
					}
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s run %d: %w", sc.Name, st.Name, run, err)
				}
				line := fmt.Sprintf("[%d/%d] %-17s %-12s run %d: %-10s peak %5.1f MiB", done, total, sc.Name, st.Name, run, res.Outcome, float64(res.Peak)/mib)
				if sc.fileCached() {
					line += fmt.Sprintf(" (%5.1f less clean cache)", float64(res.PeakLessCache)/mib)
				}
				if ph := res.phase(); ph != nil && sc.Goals == goalsIdle {
					line += fmt.Sprintf(", idle %5.2f s, CPU %6.1f ms, %d GCs (%d forced)", ph.WallSeconds, ph.CPUSeconds*1000, ph.GCs, ph.ForcedGCs)
				} else if ph != nil {
					line += fmt.Sprintf(", wall %5.2f s, CPU %5.2f s, GC CPU %6.1f ms/GiB, %d GCs (%d forced)", ph.WallSeconds, ph.CPUSeconds, gcMsPerGiB(ph), ph.GCs, ph.ForcedGCs)
					if c := res.Res; sc.CacheFile && c.CacheActiveMiB != nil && c.CacheInactiveMiB != nil {
						line += fmt.Sprintf("; file cache at start: %.0f MiB active, %.0f inactive", *c.CacheActiveMiB, *c.CacheInactiveMiB)
					}
					if sc.ScavTrace {
						line += fmt.Sprintf("; scavenger %.1f ms CPU, %.1f MiB released", ph.ScavCPUSeconds*1000, float64(res.ScavKiB)/1024)
					}
					if sc.WriteFile {
						line += fmt.Sprintf("; wrote %d MiB", res.Res.WrittenMiB)
					}
				} else {
					line += fmt.Sprintf(" after %5.2f s", res.Wall.Seconds())
					if res.Outcome == failed {
						line += ": " + res.Detail
					}
				}
				if sc.Cut != nil {
					line += "; " + res.cutSummary()
				}
				logf("%s", line)
				byStrat[st.Name] = append(byStrat[st.Name], res)
				all = append(all, res)
			}
		}
		var cells []cell
		for _, st := range strats {
			cells = append(cells, summarise(st, byStrat[st.Name]))
		}
		rep.Cells[sc.Name] = cells
		png := filepath.Join("bench", sc.Name+".png")
		if err := plotUsage(filepath.Join(outDir, png), sc, cells, sc.endCapBytes()); err != nil {
			return nil, fmt.Errorf("plotting %s: %w", sc.Name, err)
		}
		rep.Plots[sc.Name] = png
	}
	return all, nil
}

func hasStrategy(strats []strategy, name string) bool {
	for _, st := range strats {
		if st.Name == name {
			return true
		}
	}
	return false
}
