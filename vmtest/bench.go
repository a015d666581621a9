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

// BenchPlan is the plan file put in the initramfs; the guest's copy of these
// types is in guest/bench.go.
type BenchPlan struct {
	CapBytes uint64        `json:"cap_bytes"`
	Timeout  time.Duration `json:"timeout"`
	Settle   time.Duration `json:"settle"`
	Runs     []BenchRun    `json:"runs"`
}

// BenchRun is one workload run of the plan.
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
// runs that finished. The last column counts the survivors whose cgroup
// reached memory.max (memory.events "max" > 0): the kernel had to reclaim
// to keep them alive, a near miss.
func BenchTable(results []BenchResult, scenario string, strategies []string) string {
	var b strings.Builder
	b.WriteString("| strategy | survived | OOM-killed | other outcome | median peak MiB | median wall s | median GC CPU | median GCs (forced) | watchdog events / samples | survivors that hit memory.max |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, st := range strategies {
		var n, ok, oom, hitMax int
		other := map[string]int{}
		var peaks, walls, gcCPU, gcs, forced, events, samples []float64
		for _, r := range results {
			if r.Scenario != scenario || r.Strategy != st {
				continue
			}
			n++
			peaks = append(peaks, float64(r.PeakBytes())/(1<<20))
			walls = append(walls, r.Wall)
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
		fmt.Fprintf(&b, "| %s | %d/%d | %d/%d | %s | %s | %s | %s | %s | %s | %s |\n",
			st, ok, n, oom, n, orDash(strings.Join(others, ", ")),
			dash(peaks, "%.1f"), dash(walls, "%.2f"), dash(gcCPU, "%.1f %%"), gcCol, evCol, maxCol)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
