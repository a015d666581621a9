package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// latencyStrategies are the columns of the reaction latency experiment. All
// run CgroupDriven at 1 s with the workload's fixed 50 % policy.
var latencyStrategies = []strategy{
	{Name: "v130", Build: buildV130, Flag: "watchdog", Doc: "go-watchdog v1.3.0 `CgroupDriven`: polls every 1 s"},
	{Name: "this-poll-1s", Build: buildThis, Flag: "watchdog-poll-1s", Doc: "this library with `KernelEvents = false` and `HeadroomSoftLimit = false`: polls at the 1 s frequency, shortened only by adaptive sampling (near the threshold, or when usage grows fast towards it)"},
	{Name: "this-poll", Build: buildThis, Flag: "watchdog-poll", Doc: "this library with `KernelEvents = false`: polls at least every 100 ms while it manages the soft limit, plus adaptive sampling"},
	{Name: "this", Build: buildThis, Flag: "watchdog", Doc: "this library's defaults: kernel events on (on this cgroup v1 host, a `memory.usage_in_bytes` threshold eventfd armed at the policy's threshold), polling as this-poll besides"},
}

// latencyTrial is one timed crossing, as the workload reports it.
type latencyTrial struct {
	LatencyMs  float64 `json:"latency_ms"`
	Missed     bool    `json:"missed"`
	RampMs     float64 `json:"ramp_ms"`
	BaseBytes  uint64  `json:"base_bytes"`
	CrossBytes uint64  `json:"cross_bytes"`
	ForcedGCs  int     `json:"forced_gcs"`
	RunqWaitMs float64 `json:"runq_wait_ms"`
}

// latencyCell summarises one strategy's trials; latencies are in ms, over
// the trials that were not missed.
type latencyCell struct {
	Strategy         strategy
	Trials           []latencyTrial
	Missed           int
	Median, P90, Max float64
	Threshold        uint64
	Watchdog         map[string]uint64 // Snapshot counters (this build)
	Wall             time.Duration
	Failure          string // the run neither finished nor printed a result
}

// latency runs the workload's latency scenario once per strategy, each in a
// fresh cgroup.
func latency(ctx context.Context, bins map[string]string, logDir string, trials int) ([]latencyCell, error) {
	sc := scenario{Name: "latency"}
	timeout := time.Duration(trials)*5*time.Second + 30*time.Second
	var cells []latencyCell
	for _, st := range latencyStrategies {
		time.Sleep(250 * time.Millisecond) // let the previous group's pages go
		args := []string{"-strategy", st.Flag, "-scenario", "latency", "-trials", strconv.Itoa(trials)}
		res, err := runOnce(ctx, sc, st, 1, bins[st.Build], args, capMiB*mib, 100*time.Millisecond, timeout, logDir)
		if err != nil {
			return nil, fmt.Errorf("latency %s: %w", st.Name, err)
		}
		c := latencyCell{Strategy: st, Wall: res.Wall}
		if res.Outcome != survived {
			c.Failure = res.Outcome + ": " + res.Detail
			logf("latency %-12s %s", st.Name, c.Failure)
		} else {
			c.Trials, c.Threshold, c.Watchdog = res.Res.Trials, res.Res.Threshold, res.Res.Watchdog
			var ms []float64
			for _, t := range c.Trials {
				if t.Missed {
					c.Missed++
				} else {
					ms = append(ms, t.LatencyMs)
				}
			}
			c.Median, c.P90, c.Max = median(ms), percentile(ms, 0.9), percentile(ms, 1)
			busy, worst := busyTrials(c.Trials)
			logf("latency %-12s %d trials in %5.1f s: median %s ms, p90 %s ms, max %s ms, %d missed, %d busy (worst CPU wait %.0f ms)%s",
				st.Name, len(c.Trials), c.Wall.Seconds(), fmtMs(c.Median), fmtMs(c.P90), fmtMs(c.Max), c.Missed, busy, worst, fmtCounters(c.Watchdog))
		}
		cells = append(cells, c)
	}
	return cells, nil
}

// busyWait is the run-queue wait in one trial over which the host counts
// as busy for that trial.
const busyWait = 250 * time.Millisecond

// busyTrials counts the trials whose workload waited over busyWait for a CPU.
func busyTrials(ts []latencyTrial) (n int, worstMs float64) {
	for _, t := range ts {
		if t.RunqWaitMs > float64(busyWait/time.Millisecond) {
			n++
		}
		worstMs = max(worstMs, t.RunqWaitMs)
	}
	return n, worstMs
}

// percentile returns the nearest-rank p-quantile, or NaN for no values.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return nan
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// fmtMs prints a latency with two significant decimals below 10 ms.
func fmtMs(v float64) string {
	switch {
	case v != v:
		return "—"
	case v < 10:
		return fmtF(v, 2)
	case v < 100:
		return fmtF(v, 1)
	}
	return fmtF(v, 0)
}

func fmtCounters(m map[string]uint64) string {
	if m == nil {
		return ""
	}
	return fmt.Sprintf(" (watchdog: %d events, %d samples, %d forced GCs)", m["events"], m["samples"], m["forced_gcs"])
}

func (r *report) writeLatency(p func(string, ...any)) {
	if len(r.Latency) == 0 {
		return
	}
	trials := 0
	for _, c := range r.Latency {
		trials = max(trials, len(c.Trials))
	}
	p("## Reaction latency\n\n")
	p("How long a watchdog takes to start a forced GC once the cgroup's usage crosses its threshold. ")
	p("Each strategy runs the workload once (`-scenario latency -trials %d`) in a fresh cgroup v1 group capped at %d MiB, ", trials, capMiB)
	p("with `CgroupDriven` at a 1 s frequency and a fixed policy: the threshold is always 50 %% of the limit (%d MiB), so every sample at or above it forces a GC. ", capMiB/2)
	p("`ForcedGCFunc` is wrapped to record the time at its start, then call `runtime.GC()`.\n\n")
	p("A trial starts with usage settled at about 20 %% of the cap (a touched mmap'd ballast, a small heap and no allocation, so the runtime does not collect on its own), ")
	p("after a pause of 0.6 s plus a random 0–1 s, so that the crossing falls at a random phase of the polling. ")
	p("The workload then touches an anonymous mmap'd block (no huge pages) page by page up to about 65 %% of the cap, reading `memory.usage_in_bytes` every 8 pages: ")
	p("the crossing is the first read at or above the threshold. ")
	p("The latency is the start of the first forced GC after the crossing minus the crossing (a forced GC between the last read below and the crossing read counts as 0). ")
	p("The block is unmapped once that GC is seen, or 3 s after the crossing (a missed crossing); the next trial waits for usage to fall back under 30 %%. ")
	p("The workload also records how long its threads waited for a CPU during each trial (`/proc/self/task/*/schedstat`), to tell a busy host from a slow watchdog.\n\n")
	p("Strategies:\n\n")
	for _, c := range r.Latency {
		p("- **%s**: %s.\n", c.Strategy.Name, c.Strategy.Doc)
	}
	missed := false
	for _, c := range r.Latency {
		missed = missed || c.Missed > 0
	}
	p("\n| strategy | trials | median (ms) | p90 (ms) | max (ms) |")
	if missed {
		p(" missed |")
	}
	p("\n|---|---:|---:|---:|---:|")
	if missed {
		p("---:|")
	}
	p("\n")
	var notes []string
	for _, c := range r.Latency {
		if c.Failure != "" {
			p("| %s | **failed** | — | — | — |", c.Strategy.Name)
			notes = append(notes, fmt.Sprintf("%s failed: %s", c.Strategy.Name, c.Failure))
		} else {
			p("| %s | %d | %s | %s | %s |", c.Strategy.Name, len(c.Trials), fmtMs(c.Median), fmtMs(c.P90), fmtMs(c.Max))
		}
		if missed {
			p(" %d |", c.Missed)
		}
		p("\n")
		if n, worst := busyTrials(c.Trials); n > 0 {
			notes = append(notes, fmt.Sprintf("%s: in %d trial(s) the workload waited over %d ms for a CPU (up to %.0f ms in one trial): the host was busy, and those trials measure it as much as the watchdog",
				c.Strategy.Name, n, busyWait/time.Millisecond, worst))
		}
		if c.Watchdog != nil {
			notes = append(notes, fmt.Sprintf("%s: `Snapshot()` counted %d kernel events, %d samples and %d forced GCs",
				c.Strategy.Name, c.Watchdog["events"], c.Watchdog["samples"], c.Watchdog["forced_gcs"]))
		}
	}
	if len(notes) > 0 {
		p("\n- %s.\n", strings.Join(notes, ".\n- "))
		p("\nA v1 usage threshold fires on crossings in both directions, so a trial counts two events; a watchdog that still sees usage over the threshold after its forced GC forces another at its next sample, so forced GCs can outnumber trials.\n")
	}
	p("\n")
}

func writeLatencyCSV(dir string, cells []latencyCell) error {
	if len(cells) == 0 {
		return nil
	}
	rows := [][]string{{"strategy", "trial", "latency_ms", "missed", "ramp_ms", "base_bytes", "cross_bytes", "threshold_bytes", "forced_gcs", "runq_wait_ms"}}
	for _, c := range cells {
		for i, t := range c.Trials {
			lat := strconv.FormatFloat(t.LatencyMs, 'f', 3, 64)
			if t.Missed && t.LatencyMs == 0 {
				lat = "" // no forced GC at all
			}
			rows = append(rows, []string{c.Strategy.Name, strconv.Itoa(i + 1), lat, strconv.FormatBool(t.Missed), strconv.FormatFloat(t.RampMs, 'f', 3, 64),
				strconv.FormatUint(t.BaseBytes, 10), strconv.FormatUint(t.CrossBytes, 10), strconv.FormatUint(c.Threshold, 10), strconv.Itoa(t.ForcedGCs), strconv.FormatFloat(t.RunqWaitMs, 'f', 3, 64)})
		}
	}
	return writeCSV(filepath.Join(dir, "latency.csv"), rows)
}
