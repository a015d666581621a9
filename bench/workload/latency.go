package main

// The latency scenario measures how long a watchdog takes to react when
// usage crosses its threshold: from the moment the cgroup's
// memory.usage_in_bytes passes the threshold to the start of the forced GC.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	watchdog "github.com/raulk/go-watchdog"
	"golang.org/x/sys/unix"
)

var (
	trials    = flag.Int("trials", 15, "crossings to time (latency)")
	usageFile = flag.String("usage-file", "", "the cgroup's memory.usage_in_bytes (latency; default $WDBENCH_CGROUP/memory.usage_in_bytes)")
)

// The shape of one trial, as fractions of the cap.
const (
	latBaseline  = 0.20 // usage before a trial (topped up by a ballast)
	latThreshold = 0.50 // the policy's threshold: every sample at or above it forces a GC
	latPeak      = 0.65 // usage at the end of the ramp
	latRecovered = 0.30 // usage to fall under after the block is dropped

	latGiveUp   = 3 * time.Second        // a crossing without a forced GC by then is missed
	latSettle   = 600 * time.Millisecond // after recovery, before the random pause: lets adaptive sampling forget the last burst
	latJitter   = time.Second            // random pause in [0, latJitter): one poll period of 1 s
	checkPages  = 8                      // read usage every checkPages touched pages
	pageSize    = 4096
	usageBufLen = 32
)

// fixedPolicy puts the next GC at a fixed usage, whatever the current one.
type fixedPolicy uint64

func (p fixedPolicy) Evaluate(watchdog.UtilizationType, uint64) uint64 { return uint64(p) }

// trial is one timed crossing, as printed in the result.
type trial struct {
	LatencyMs  float64 `json:"latency_ms"` // crossing to the start of the first forced GC after it; 0 when missed
	Missed     bool    `json:"missed,omitempty"`
	RampMs     float64 `json:"ramp_ms"`      // first touch to crossing
	BaseBytes  uint64  `json:"base_bytes"`   // usage before the trial
	CrossBytes uint64  `json:"cross_bytes"`  // usage at the read that saw the crossing
	ForcedGCs  int     `json:"forced_gcs"`   // forced GCs from the crossing to the end of the trial
	RunqWaitMs float64 `json:"runq_wait_ms"` // time this process's threads waited for a CPU during the trial (a busy host)
}

type latencyResult struct {
	Scenario  string            `json:"scenario"`
	Strategy  string            `json:"strategy"`
	Cap       uint64            `json:"cap"`
	Threshold uint64            `json:"threshold"`
	Trials    []trial           `json:"trials"`
	Watchdog  map[string]uint64 `json:"watchdog,omitempty"` // this build: Snapshot counters
}

// watchdogCounters, when set (this build), returns the watchdog's counters.
var watchdogCounters func() map[string]uint64

// gcLog records the start of every forced GC.
type gcLog struct {
	mu    sync.Mutex
	times []time.Time
	wake  chan struct{}
}

func (l *gcLog) forcedGC() {
	t := time.Now()
	l.mu.Lock()
	l.times = append(l.times, t)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	runtime.GC()
}

// since returns the first forced GC at or after t, and how many there were.
func (l *gcLog) since(t time.Time) (first time.Time, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.times {
		if !g.Before(t) {
			if n == 0 {
				first = g
			}
			n++
		}
	}
	return first, n
}

func runLatency(setup strategy, capBytes uint64) error {
	path := *usageFile
	if path == "" {
		dir := os.Getenv("WDBENCH_CGROUP")
		if dir == "" {
			return errors.New("-scenario latency needs -usage-file or $WDBENCH_CGROUP")
		}
		path = filepath.Join(dir, "memory.usage_in_bytes")
	}
	uf, err := os.Open(path)
	if err != nil {
		return err
	}
	defer uf.Close()
	var buf [usageBufLen]byte
	usage := func() uint64 {
		n, err := uf.ReadAt(buf[:], 0)
		if n == 0 && err != nil {
			panic(fmt.Sprintf("reading %s: %v", path, err))
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(buf[:n])), 10, 64)
		if err != nil {
			panic(fmt.Sprintf("parsing %s: %v", path, err))
		}
		return v
	}
	frac := func(f float64) uint64 { return uint64(float64(capBytes) * f) }

	// Settle at the baseline: the Go runtime and a touched ballast.
	if u := usage(); u < frac(latBaseline) {
		ballast, err := mmapTouched(int((frac(latBaseline) - u) &^ (pageSize - 1)))
		if err != nil {
			return err
		}
		defer unix.Munmap(ballast)
	}
	gcs := &gcLog{wake: make(chan struct{}, 1)}
	watchdog.ForcedGCFunc = gcs.forcedGC
	threshold := frac(latThreshold)
	policy = func(uint64) (watchdog.Policy, error) { return fixedPolicy(threshold), nil }
	stop, err := setup(capBytes)
	if err != nil {
		return fmt.Errorf("strategy %s: %w", *strategyName, err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	res := latencyResult{Scenario: *scenario, Strategy: *strategyName, Cap: capBytes, Threshold: threshold}
	for i := 0; i < *trials; i++ {
		time.Sleep(latSettle + rand.N(latJitter))
		t, err := oneTrial(usage, gcs, threshold, frac(latPeak))
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		res.Trials = append(res.Trials, t)
		fmt.Fprintf(os.Stderr, "trial %d: %+v\n", i+1, t)
		// Wait for the drop to show, so the next baseline is low again.
		for deadline := time.Now().Add(5 * time.Second); usage() >= frac(latRecovered); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("trial %d: usage %d bytes still above %d bytes 5 s after the drop", i+1, usage(), frac(latRecovered))
			}
		}
	}
	stop() // let a forced GC in progress finish and count
	stopped = true
	if watchdogCounters != nil {
		res.Watchdog = watchdogCounters()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// oneTrial maps size bytes and touches them page by page, reading usage
// every few pages; the crossing is the first read at or above threshold.
// It then waits for a forced GC (up to latGiveUp after the crossing) and
// unmaps the block. The block is mmap'd rather than a Go slice: a large
// allocation from reused heap memory is zeroed by the allocator (touching
// every page before the ramp starts), and a heap that grows by half the cap
// would set off the runtime's own GC.
func oneTrial(usage func() uint64, gcs *gcLog, threshold, peak uint64) (t trial, err error) {
	t = trial{BaseBytes: usage()}
	wait0 := runqWait()
	defer func() { t.RunqWaitMs = ms(runqWait() - wait0) }()
	if t.BaseBytes >= threshold {
		return t, fmt.Errorf("usage %d bytes is already at or above the threshold %d bytes", t.BaseBytes, threshold)
	}
	size := peak - t.BaseBytes
	b, err := unix.Mmap(-1, 0, int(size&^(pageSize-1)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return t, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	defer unix.Munmap(b)
	_ = unix.Madvise(b, unix.MADV_NOHUGEPAGE) // one charge per touched page

	start := time.Now()
	before := start // last read below the threshold
	var cross time.Time
	for off, page := 0, 0; off < len(b); off, page = off+pageSize, page+1 {
		b[off] = 1
		if cross.IsZero() && page%checkPages == checkPages-1 {
			now := time.Now()
			if u := usage(); u >= threshold {
				cross, t.CrossBytes = now, u
			} else {
				before = now
			}
		}
	}
	if cross.IsZero() {
		return t, fmt.Errorf("usage never reached the threshold (%d bytes) after touching %d bytes from %d", threshold, len(b), t.BaseBytes)
	}
	t.RampMs = ms(cross.Sub(start))
	// A forced GC between the last read below the threshold and the
	// crossing read answers this crossing (latency 0): count from before.
	giveUp := time.NewTimer(time.Until(cross.Add(latGiveUp)))
	defer giveUp.Stop()
	for {
		if first, n := gcs.since(before); n > 0 {
			t.LatencyMs, t.ForcedGCs = max(0, ms(first.Sub(cross))), n
			// A stalled process may see its give-up timer late.
			t.Missed = first.Sub(cross) > latGiveUp
			return t, nil
		}
		select {
		case <-gcs.wake:
		case <-giveUp.C:
			t.Missed = true
			return t, nil
		}
	}
}

// runqWait sums the time this process's threads have spent runnable but
// waiting for a CPU (/proc/self/task/*/schedstat, second field); 0 if the
// kernel does not say.
func runqWait() time.Duration {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) >= 2 {
			ns, _ := strconv.ParseInt(fs[1], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
