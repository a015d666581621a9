//go:build linux

package main

// The survival benchmark mode of init (vmtest.bench=<plan file> on the kernel
// command line, used by TestVMBench): it runs the bench module's workload
// binaries, as listed in the plan, one at a time, each in a fresh cgroup v2
// child capped with memory.max (and memory.swap.max=0), and prints one line
// per run on the console:
//
//	VMBENCH {"scenario":...,"strategy":...,"outcome":...}
//
// The host turns these lines into the survival tables.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/raulk/go-watchdog/vmtest"
)

// The plan file the host puts in the initramfs: the host's types.
type (
	benchPlan = vmtest.BenchPlan
	benchRun  = vmtest.BenchRun
)

// benchResult is one VMBENCH line. Keep it in step with ../bench.go.
type benchResult struct {
	Scenario    string          `json:"scenario"`
	Strategy    string          `json:"strategy"`
	Run         int             `json:"run"`
	Outcome     string          `json:"outcome"` // survived, oom-killed, no-start, failed
	Detail      string          `json:"detail,omitempty"`
	ExitCode    int             `json:"exit_code"`
	Signal      int             `json:"signal,omitempty"`
	OOMKills    uint64          `json:"oom_kill"`
	MaxEvents   uint64          `json:"max_events"`  // memory.events "max": times usage hit memory.max
	HighEvents  uint64          `json:"high_events"` // memory.events "high"
	Peak        uint64          `json:"peak"`        // memory.peak, 0 when the kernel lacks it
	SampledPeak uint64          `json:"sampled_peak"`
	Wall        float64         `json:"wall_s"` // start to exit, measured by init
	Result      json.RawMessage `json:"result,omitempty"`
	LogHead     string          `json:"log_head,omitempty"` // the first lines of stderr: the watchdog's start-up log
	LogTail     string          `json:"log_tail,omitempty"` // the last lines of stderr
	Monitor     *vmtest.Monitor `json:"monitor,omitempty"`  // init's watch of memory.events and the plan's PSI triggers
}

// workloadFailedToStart is the prefix of the workload's error when its
// strategy's setup fails (bench/workload/main.go: "strategy %s: %w").
const workloadFailedToStart = "workload: strategy "

func benchMain(planPath string) error {
	b, err := os.ReadFile(planPath)
	if err != nil {
		return err
	}
	var plan benchPlan
	if err := json.Unmarshal(b, &plan); err != nil {
		return fmt.Errorf("parsing %s: %w", planPath, err)
	}
	if err := mountCgroups("v2"); err != nil {
		return fmt.Errorf("mounting cgroup v2: %w", err)
	}
	chmodded := map[string]bool{}
	for i, r := range plan.Runs {
		if !chmodded[r.Bin] {
			// BuildInitramfs writes extra files 0644.
			if err := os.Chmod(r.Bin, 0o755); err != nil {
				return err
			}
			chmodded[r.Bin] = true
		}
		time.Sleep(plan.Settle)
		res, err := benchOnce(plan, i, r)
		if err != nil {
			return fmt.Errorf("%s %s run %d: %w", r.Scenario, r.Strategy, r.Run, err)
		}
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Printf("VMBENCH %s\n", line)
	}
	return nil
}

// benchOnce runs one workload in a fresh capped cgroup, started straight
// into it with CLONE_INTO_CGROUP, and removes the cgroup afterwards.
func benchOnce(plan benchPlan, i int, r benchRun) (benchResult, error) {
	res := benchResult{Scenario: r.Scenario, Strategy: r.Strategy, Run: r.Run}
	name := fmt.Sprintf("bench-%03d", i)
	dir, err := makeCgroup(2, name, plan.CapBytes, false)
	if err != nil {
		return res, err
	}
	if got, err := readTrim(dir + "/memory.swap.max"); err == nil && got != "0" {
		return res, fmt.Errorf("memory.swap.max is %q after writing 0", got)
	}
	defer removeCgroup(dir)
	cg, err := os.Open(dir)
	if err != nil {
		return res, err
	}
	defer cg.Close()

	mon, err := startMonitor(dir, plan.PSITriggers)
	if err != nil {
		return res, err
	}
	args := make([]string, len(r.Args))
	for i, a := range r.Args {
		args[i] = strings.ReplaceAll(a, "{cgroup}", dir)
	}

	ctx, cancel := context.WithTimeout(context.Background(), plan.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin, args...) // kills cmd.Process by pid at the deadline
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	start := time.Now()
	mon.began(start)
	if err := cmd.Start(); err != nil {
		mon.finish()
		return res, fmt.Errorf("starting %s: %w", r.Bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var werr error
wait:
	for {
		select {
		case werr = <-done:
			break wait
		case <-tick.C:
			if cur, _, err := usage(2, dir); err == nil && cur > res.SampledPeak {
				res.SampledPeak = cur
			}
		}
	}
	res.Wall = time.Since(start).Seconds()
	res.Monitor = mon.finish()
	if ev, err := keyedFile(dir + "/memory.events"); err == nil {
		res.OOMKills, res.MaxEvents, res.HighEvents = ev["oom_kill"], ev["max"], ev["high"]
	}
	_, res.Peak, _ = usage(2, dir)

	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	res.ExitCode = ws.ExitStatus()
	if ws.Signaled() {
		res.Signal = int(ws.Signal())
	}
	errText := lastLine(stderr.String())
	res.LogHead = head(stderr.String(), 3, 600)
	res.LogTail = tail(stderr.String(), 4, 800)
	switch {
	case ctx.Err() != nil:
		res.Outcome, res.Detail = "failed", fmt.Sprintf("still running after %v; killed", plan.Timeout)
	case res.OOMKills > 0 || (ws.Signaled() && ws.Signal() == syscall.SIGKILL):
		res.Outcome = "oom-killed"
		res.Detail = fmt.Sprintf("oom_kill %d, %v", res.OOMKills, cmd.ProcessState)
		if res.OOMKills == 0 {
			res.Outcome, res.Detail = "failed", "SIGKILL without an OOM kill"
		}
	case werr != nil && strings.HasPrefix(errText, workloadFailedToStart):
		res.Outcome, res.Detail = "no-start", errText
	case werr != nil:
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return res, werr
		}
		res.Outcome, res.Detail = "failed", fmt.Sprintf("%v: %s", werr, errText)
	default:
		out := bytes.TrimSpace(stdout.Bytes())
		if !json.Valid(out) {
			res.Outcome, res.Detail = "failed", fmt.Sprintf("bad result line %q", out)
			break
		}
		res.Outcome, res.Result = "survived", json.RawMessage(out)
	}
	return res, nil
}

// removeCgroup removes an emptied cgroup; the kernel may take a moment to
// let go of a killed process.
func removeCgroup(dir string) {
	_ = waitFor(5*time.Second, func() bool {
		err := os.Remove(dir)
		return err == nil || errors.Is(err, os.ErrNotExist)
	})
}

// head returns at most n lines and max bytes of s.
func head(s string, n, max int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	s = strings.Join(lines, "\n")
	if len(s) > max {
		s = s[:max]
	}
	return strings.TrimSpace(s)
}

// tail returns at most the last n lines and max bytes of s.
func tail(s string, n, max int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// benchPlanPath returns the plan file named on the kernel command line,
// made absolute.
func benchPlanPath(v string) string {
	if !filepath.IsAbs(v) {
		v = "/" + v
	}
	return v
}
