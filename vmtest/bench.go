package vmtest

// Host side of the cgroup v2 survival benchmark (TestVMBench): the plan the
// guest runs, the VMBENCH lines it prints, and the markdown tables made of
// them.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// BenchPlan is the plan file put in the initramfs; the guest reads it with
// these types (guest/bench.go).
type BenchPlan struct {
	CapBytes uint64        `json:"cap_bytes"`
	Timeout  time.Duration `json:"timeout"`
	Settle   time.Duration `json:"settle"`
	// PSITriggers are PSI triggers (e.g. "some 150000 2000000") that init
	// arms on every run's memory.pressure, from outside the run, to see
	// whether and when they fire (BenchResult.Monitor). None when empty.
	PSITriggers []string   `json:"psi_triggers,omitempty"`
	Runs        []BenchRun `json:"runs"`
}

// BenchRun is one workload run of the plan. In Args, "{cgroup}" stands for
// the run's cgroup directory in the guest, e.g.
// "{cgroup}/memory.current".
type BenchRun struct {
	Scenario string   `json:"scenario"`
	Strategy string   `json:"strategy"`
	Run      int      `json:"run"`
	Bin      string   `json:"bin"`
	Args     []string `json:"args"`
}

// BenchResult is one "VMBENCH {json}" line of the guest.
type BenchResult struct {
	Scenario    string          `json:"scenario"`
	Strategy    string          `json:"strategy"`
	Run         int             `json:"run"`
	Outcome     string          `json:"outcome"` // survived, oom-killed, no-start, failed
	Detail      string          `json:"detail"`
	ExitCode    int             `json:"exit_code"`
	Signal      int             `json:"signal"`
	OOMKills    uint64          `json:"oom_kill"`
	MaxEvents   uint64          `json:"max_events"`
	HighEvents  uint64          `json:"high_events"`
	Peak        uint64          `json:"peak"`
	SampledPeak uint64          `json:"sampled_peak"`
	Wall        float64         `json:"wall_s"`
	Result      *WorkloadResult `json:"result"`
	LogHead     string          `json:"log_head"`
	LogTail     string          `json:"log_tail"`
	Monitor     *Monitor        `json:"monitor"`
}

// Monitor is what init saw of a run's cgroup from outside while the run
// went on: when memory.events first counted a "max" event (through an
// inotify watch), and how often each of the plan's PSI triggers fired.
// Times are in milliseconds since the run started; -1 means never.
type Monitor struct {
	FirstMaxMs float64    `json:"first_max_ms"`
	PSI        []PSIFires `json:"psi,omitempty"`
	// PressureSomeUs and PressureFullUs are the "total=" stall times of
	// memory.pressure at the end of the run, in microseconds.
	PressureSomeUs uint64 `json:"pressure_some_us"`
	PressureFullUs uint64 `json:"pressure_full_us"`
}

// PSIFires counts the wake-ups (POLLPRI) of one PSI trigger.
type PSIFires struct {
	Trigger string  `json:"trigger"`
	Fires   int     `json:"fires"`
	FirstMs float64 `json:"first_ms"` // -1 when it never fired
	Error   string  `json:"error,omitempty"`
}

// WorkloadResult is the JSON line bench/workload prints when it finishes.
type WorkloadResult struct {
	WallSeconds   float64           `json:"wall_s"`
	GCs           uint64            `json:"gcs"`
	ForcedGCs     uint64            `json:"forced_gcs"`
	GCCPUFraction float64           `json:"gc_cpu_fraction"`
	GCCPUSeconds  float64           `json:"gc_cpu_s"`
	ChurnedMiB    uint64            `json:"churned_mib"`
	Watchdog      map[string]uint64 `json:"watchdog"`
	// The latency scenario's fields (bench/workload/latency.go).
	Threshold uint64         `json:"threshold"`
	Trials    []LatencyTrial `json:"trials"`
}

// LatencyTrial is one timed threshold crossing of the latency scenario.
type LatencyTrial struct {
	LatencyMs  float64 `json:"latency_ms"` // crossing to the first forced GC
	Missed     bool    `json:"missed"`     // no forced GC within 3 s
	RampMs     float64 `json:"ramp_ms"`
	CrossBytes uint64  `json:"cross_bytes"`
	ForcedGCs  int     `json:"forced_gcs"`
	RunqWaitMs float64 `json:"runq_wait_ms"` // time the workload waited for a CPU
}

// PeakBytes is memory.peak, or the sampled peak of memory.current when the
// kernel has no memory.peak.
func (r BenchResult) PeakBytes() uint64 {
	if r.Peak > 0 {
		return r.Peak
	}
	return r.SampledPeak
}

// ParseBenchLines reads the VMBENCH lines of a serial log.
func ParseBenchLines(r io.Reader) ([]BenchResult, error) {
	var out []BenchResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, "VMBENCH {")
		if i < 0 {
			continue
		}
		var res BenchResult
		if err := json.Unmarshal([]byte(line[i+len("VMBENCH "):]), &res); err != nil {
			return out, fmt.Errorf("bad VMBENCH line %q: %w", line, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// BenchTable renders one scenario's results, one row per strategy in the
// given order, as a markdown table. Peak and wall are over all runs (a
// killed run peaks at the cap); the GC and watchdog columns are over the
// runs that finished. "Survivors that hit memory.max" counts the survivors
// whose cgroup reached memory.max (memory.events "max" > 0): the kernel had
// to reclaim to keep them alive, a near miss. "max events per run" is that
// counter over every run that started (not the no-start ones): median /
// worst, then each run's in run order, so "0 / 0" means no run reached
// memory.max.
func BenchTable(results []BenchResult, scenario string, strategies []string) string {
	var b strings.Builder
	b.WriteString("| strategy | survived | OOM-killed | other outcome | median peak MiB | median wall s | median GC CPU | median GCs (forced) | watchdog events / samples | survivors that hit memory.max | max events per run: median / worst (each run) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, st := range strategies {
		var n, ok, oom, hitMax int
		other := map[string]int{}
		var peaks, walls, gcCPU, gcs, forced, events, samples []float64
		var started []BenchResult
		for _, r := range results {
			if r.Scenario != scenario || r.Strategy != st {
				continue
			}
			n++
			peaks = append(peaks, float64(r.PeakBytes())/(1<<20))
			walls = append(walls, r.Wall)
			if r.Outcome != "no-start" {
				started = append(started, r)
			}
			switch r.Outcome {
			case "survived":
				ok++
				if r.MaxEvents > 0 {
					hitMax++
				}
			case "oom-killed":
				oom++
			default:
				other[r.Outcome]++
			}
			if w := r.Result; w != nil {
				gcCPU = append(gcCPU, w.GCCPUFraction*100)
				gcs = append(gcs, float64(w.GCs))
				forced = append(forced, float64(w.ForcedGCs))
				if w.Watchdog != nil {
					events = append(events, float64(w.Watchdog["events"]))
					samples = append(samples, float64(w.Watchdog["samples"]))
				}
			}
		}
		if n == 0 {
			continue
		}
		var others []string
		for k, v := range other {
			others = append(others, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(others)
		dash := func(xs []float64, f string) string {
			if len(xs) == 0 {
				return "–"
			}
			return fmt.Sprintf(f, median(xs))
		}
		gcCol := "–"
		if len(gcs) > 0 {
			gcCol = fmt.Sprintf("%.0f (%.0f)", median(gcs), median(forced))
		}
		evCol := "–"
		if len(events) > 0 {
			evCol = fmt.Sprintf("%.0f / %.0f", median(events), median(samples))
		}
		maxCol := "–"
		if ok > 0 {
			maxCol = fmt.Sprintf("%d/%d", hitMax, ok)
		}
		fmt.Fprintf(&b, "| %s | %d/%d | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			st, ok, n, oom, n, orDash(strings.Join(others, ", ")),
			dash(peaks, "%.1f"), dash(walls, "%.2f"), dash(gcCPU, "%.1f %%"), gcCol, evCol, maxCol, maxEventsCell(started))
	}
	return b.String()
}

// maxEventsCell is "median / worst (run 1, run 2, ...)" of the memory.events
// "max" counts of the given runs, or "–" for none.
func maxEventsCell(runs []BenchResult) string {
	if len(runs) == 0 {
		return "–"
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Run < runs[j].Run })
	counts := make([]float64, len(runs))
	each := make([]string, len(runs))
	worst := uint64(0)
	for i, r := range runs {
		counts[i] = float64(r.MaxEvents)
		each[i] = fmt.Sprint(r.MaxEvents)
		worst = max(worst, r.MaxEvents)
	}
	return fmt.Sprintf("%g / %d (%s)", median(counts), worst, strings.Join(each, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
