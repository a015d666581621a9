package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
	"golang.org/x/sys/unix"
)

// workloadResult is the JSON line the workload prints at exit.
type workloadResult struct {
	WallSeconds   float64 `json:"wall_s"`
	GCs           uint64  `json:"gcs"`
	ForcedGCs     uint64  `json:"forced_gcs"`
	GCCPUFraction float64 `json:"gc_cpu_fraction"`
	GCCPUSeconds  float64 `json:"gc_cpu_s"`
	GCIdleSeconds float64 `json:"gc_idle_s"`
	ChurnedMiB    uint64  `json:"churned_mib"`
	ReadMiB       uint64  `json:"read_mib"`
	WrittenMiB    uint64  `json:"written_mib"`
	// The measured phase (the churn) alone; see the workload's phaseStats.
	Phase            *phaseResult `json:"phase"`
	CacheActiveMiB   *float64     `json:"cache_active_mib"`
	CacheInactiveMiB *float64     `json:"cache_inactive_mib"`
	// The latency scenario's results.
	Threshold uint64            `json:"threshold"`
	Trials    []latencyTrial    `json:"trials"`
	Watchdog  map[string]uint64 `json:"watchdog"` // this build's Snapshot counters
}

// phaseResult is the workload's figures for its measured phase.
type phaseResult struct {
	WallSeconds   float64 `json:"wall_s"`
	CPUSeconds    float64 `json:"cpu_s"` // user+system, whole process, during the phase
	GCs           uint64  `json:"gcs"`
	ForcedGCs     uint64  `json:"forced_gcs"`
	GCCPUSeconds  float64 `json:"gc_cpu_s"` // without idle mark workers
	GCIdleSeconds float64 `json:"gc_idle_s"`
	AllocMiB      float64 `json:"alloc_mib"`
	// ScavCPUSeconds is the runtime's scavenger CPU during the phase
	// (/cpu/classes/scavenge/total:cpu-seconds).
	ScavCPUSeconds float64 `json:"scav_cpu_s"`
}

// gcMsPerGiB is the phase's GC CPU (idle mark workers left out) in
// milliseconds per GiB it allocated; NaN if it allocated nothing.
func gcMsPerGiB(p *phaseResult) float64 {
	if p.AllocMiB <= 0 {
		return nan
	}
	return p.GCCPUSeconds * 1000 / (p.AllocMiB / 1024)
}

// outcome of a run.
const (
	survived  = "survived"
	oomKilled = "oom-killed"
	failed    = "failed" // exited with an error, or killed by something other than the OOM killer
)

// sample is one reading of the cgroup's usage during a run.
type sample struct {
	At    time.Duration
	Bytes uint64
	Clean uint64 // clean file cache (cleanFileCache), sampled in file-cached scenarios only
}

// runResult is one row of runs.csv.
type runResult struct {
	Scenario string
	Strategy string
	Run      int
	Outcome  string
	Detail   string // exit status / signal, or the error
	OOMKills uint64
	Peak     uint64        // memory.max_usage_in_bytes
	Wall     time.Duration // start to exit, measured by the runner
	Res      *workloadResult
	Samples  []sample
	// PeakLessCache is the highest sampled usage less the clean file cache
	// read right after it (file-cached scenarios only): the peak of what the
	// kernel could not have dropped, at the sampling interval's resolution.
	PeakLessCache uint64
	CacheSampled  bool // the samples have Clean and PeakLessCache is set

	CapBytes uint64 // the group's limit at the start
	// The limit cut (scenario.Cut): CutTo is 0 without one. CutApplied
	// says whether a write of the new limit succeeded before the process
	// exited, CutAt when (since the start), CutTries how many writes it
	// took, CutErr the error that ended the retries, if not EBUSY.
	CutTo      uint64
	CutApplied bool
	CutAt      time.Duration
	CutTries   int
	CutErr     string
	// ScavKiB is what the runtime's scavenger reported released over the
	// whole run (GODEBUG=scavtrace=1 lines, bg + eager), ScavLines how many
	// such lines it printed; ScavTraced says whether they were collected.
	ScavKiB    uint64
	ScavLines  int
	ScavTraced bool
}

// cutSummary describes the run's limit cut for the console.
func (r runResult) cutSummary() string {
	switch {
	case r.CutApplied:
		return fmt.Sprintf("limit cut to %.0f MiB at %.2f s (%d tries)", float64(r.CutTo)/mib, r.CutAt.Seconds(), r.CutTries)
	case r.CutErr != "":
		return fmt.Sprintf("limit cut failed after %d tries: %s", r.CutTries, r.CutErr)
	default:
		return fmt.Sprintf("limit cut never took (%d tries, EBUSY)", r.CutTries)
	}
}

// phase returns the run's measured phase, or nil if it printed no result.
func (r runResult) phase() *phaseResult {
	if r.Res == nil {
		return nil
	}
	return r.Res.Phase
}

// runOnce runs the workload once in a fresh cgroup capped at capBytes,
// sampling its usage every interval, and always removes the cgroup.
func runOnce(ctx context.Context, sc scenario, st strategy, run int, bin string, args []string, capBytes uint64, interval, timeout time.Duration, logDir string) (res runResult, err error) {
	res = runResult{Scenario: sc.Name, Strategy: st.Name, Run: run, CacheSampled: sc.fileCached(), CapBytes: capBytes, ScavTraced: sc.ScavTrace}
	g, err := cgtest.New("wdbench", capBytes)
	if err != nil {
		return res, err
	}
	defer func() {
		if rerr := g.Remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()

	cmd := g.Command(bin, args...)
	// The latency scenario reads the group's usage file.
	cmd.Env = append(os.Environ(), "WDBENCH_CGROUP="+g.Dir)
	var scav *scavCounter
	if sc.ScavTrace {
		cmd.Env = withGODEBUG(cmd.Env, "scavtrace=1")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &tailWriter{max: 4 << 10, buf: &stderr}
	if sc.ScavTrace {
		scav = &scavCounter{}
		cmd.Stderr = io.MultiWriter(cmd.Stderr, scav)
	}
	if logDir != "" {
		// The workload's stderr (the watchdog's log) in full, for a closer look.
		lf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%s-%s-%d.log", sc.Name, st.Name, run)))
		if err != nil {
			return res, err
		}
		defer lf.Close()
		cmd.Stderr = io.MultiWriter(cmd.Stderr, lf)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting the workload: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var cutC <-chan time.Time
	var cutTimer *time.Timer
	if sc.Cut != nil {
		res.CutTo = uint64(sc.Cut.ToMiB) * mib
		cutTimer = time.NewTimer(sc.Cut.After)
		defer cutTimer.Stop()
		cutC = cutTimer.C
	}
	var werr error
	timedOut := false
loop:
	for {
		select {
		case werr = <-waitErr:
			break loop
		case <-tick.C:
			u, err := g.Usage()
			if err != nil {
				continue
			}
			s := sample{At: time.Since(start), Bytes: u}
			if sc.fileCached() {
				// A sample without its clean cache would count the cache
				// as usage; skip it.
				if s.Clean, err = cleanFileCache(g.Dir); err != nil {
					continue
				}
				if u > s.Clean && u-s.Clean > res.PeakLessCache {
					res.PeakLessCache = u - s.Clean
				}
			}
			res.Samples = append(res.Samples, s)
		case <-cutC:
			res.CutTries++
			switch err := g.SetLimit(res.CutTo); {
			case err == nil:
				res.CutApplied, res.CutAt, cutC = true, time.Since(start), nil
			case errors.Is(err, syscall.EBUSY):
				cutTimer.Reset(cutRetry) // usage is over the new limit: retry
			default:
				res.CutErr, cutC = err.Error(), nil
			}
		case <-deadline.C:
			// Only the process we started, by its PID.
			timedOut = true
			_ = cmd.Process.Kill()
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-waitErr
			return res, ctx.Err()
		}
	}
	res.Wall = time.Since(start)
	if scav != nil {
		scav.flush()
		res.ScavKiB, res.ScavLines = scav.kib, scav.lines
	}

	if res.OOMKills, err = g.OOMKills(); err != nil {
		return res, err
	}
	if res.Peak, err = g.MaxUsage(); err != nil {
		return res, err
	}

	sig := signalOf(cmd.ProcessState)
	switch {
	case timedOut:
		res.Outcome, res.Detail = failed, fmt.Sprintf("timed out after %s", timeout)
	case res.OOMKills > 0 || sig == syscall.SIGKILL:
		res.Outcome = oomKilled
		res.Detail = fmt.Sprintf("oom_kill %d, %v", res.OOMKills, cmd.ProcessState)
		if res.OOMKills == 0 {
			res.Outcome, res.Detail = failed, fmt.Sprintf("SIGKILL without an OOM kill (%v)", cmd.ProcessState)
		}
	case werr != nil:
		res.Outcome, res.Detail = failed, fmt.Sprintf("%v: %s", werr, lastLine(stderr.String()))
	default:
		var r workloadResult
		if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
			res.Outcome, res.Detail = failed, fmt.Sprintf("bad result line %q: %v", stdout.String(), err)
			break
		}
		res.Outcome, res.Detail, res.Res = survived, "exit 0", &r
	}
	return res, nil
}

func signalOf(ps *os.ProcessState) syscall.Signal {
	if ps == nil {
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// tailWriter keeps only the last max bytes written (the watchdog logs to
// stderr; only the end matters for a failure message).
type tailWriter struct {
	max int
	buf *bytes.Buffer
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}

// writePageFile writes the file the pagecache scenario reads: n bytes, not
// all alike, synced to disk.
func writePageFile(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := 0; i < n; i += len(buf) {
		for j := 0; j < len(buf); j += 8 {
			copy(buf[j:], strconv.AppendInt(buf[j:j], int64(i+j), 36))
		}
		if _, err := f.Write(buf); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// evict drops path's pages from the page cache (they are clean), so the
// next run reads it from disk and the pages are charged to its cgroup
// rather than staying charged to whichever cgroup read them before.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// withGODEBUG returns env with setting added to GODEBUG.
func withGODEBUG(env []string, setting string) []string {
	out := make([]string, 0, len(env)+1)
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			cur = v
			continue
		}
		out = append(out, kv)
	}
	if cur != "" {
		setting = cur + "," + setting
	}
	return append(out, "GODEBUG="+setting)
}

// scavCounter reads the workload's stderr for the runtime's scavenger
// trace (GODEBUG=scavtrace=1): lines "scav B KiB work (bg), E KiB work
// (eager), N KiB now, U% util", one per GC cycle and one per forced
// scavenge (debug.FreeOSMemory), and sums B + E, the memory released
// since the previous line. Other lines (the watchdog's log) pass by.
type scavCounter struct {
	partial []byte
	kib     uint64
	lines   int
}

func (c *scavCounter) Write(p []byte) (int, error) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > 1<<16 { // no trace line is this long
		c.partial = c.partial[:0]
	}
	return len(p), nil
}

// flush counts a last line without its newline.
func (c *scavCounter) flush() {
	if len(c.partial) > 0 {
		c.line(string(c.partial))
		c.partial = c.partial[:0]
	}
}

func (c *scavCounter) line(l string) {
	var bg, eager uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(l), "scav %d KiB work (bg), %d KiB work (eager),", &bg, &eager); err != nil {
		return
	}
	c.kib += bg + eager
	c.lines++
}
