//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// Workload shape of the pressure scenarios.
const (
	livePercent = 60           // live heap held, in percent of the cap
	churnBytes  = 8 * capBytes // garbage allocated in total
	chunk       = mib          // allocation unit; every page of it is written
	frequency   = 10 * time.Millisecond
)

// watermarks is the policy of the cgroup scenarios.
var watermarks = []float64{0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95}

// env is what a workload knows about where it runs.
type env struct {
	version int
	dir     string // the worker's cgroup directory, in the worker's view
}

func (e *env) report(key string, value any) {
	fmt.Printf("REPORT %s %v\n", key, value)
}

// worker is the entry point of "/init worker <scenario> <dir>".
func worker(name, dir string) int {
	s := lookup(name)
	if s == nil {
		fmt.Printf("REPORT error unknown scenario %q\n", name)
		return 2
	}
	watchdog.Logger = &consoleLogger{}
	var err error
	if dir == "-" {
		dir, err = containerView(s.version)
	} else {
		err = joinCgroup(dir)
	}
	if err == nil {
		err = s.work(&env{version: s.version, dir: dir})
	}
	if err != nil {
		fmt.Printf("REPORT error %s\n", oneLine(err.Error()))
		return 1
	}
	fmt.Println("REPORT ok 1")
	return 0
}

// probe observes the watchdog through its public API: the limit handed to
// the policy constructor, the usage handed to the policy, forced GCs (by
// wrapping ForcedGCFunc) and GCs (through a post-GC notifee).
type probe struct {
	limit    atomic.Uint64
	evals    atomic.Int64
	lastUsed atomic.Uint64
	forced   atomic.Int64
	gcs      atomic.Int64
	unreg    func()
}

func newProbe() *probe {
	p := &probe{}
	orig := watchdog.ForcedGCFunc
	watchdog.ForcedGCFunc = func() {
		p.forced.Add(1)
		orig()
	}
	p.unreg = watchdog.RegisterPostGCNotifee(func() { p.gcs.Add(1) })
	return p
}

// ctor wraps NewWatermarkPolicy(watermarks...) to record what it is given.
func (p *probe) ctor(limit uint64) (watchdog.Policy, error) {
	p.limit.Store(limit)
	inner, err := watchdog.NewWatermarkPolicy(watermarks...)(limit)
	if err != nil {
		return nil, err
	}
	return recordingPolicy{inner, p}, nil
}

type recordingPolicy struct {
	inner watchdog.Policy
	p     *probe
}

func (r recordingPolicy) Evaluate(scope watchdog.UtilizationType, used uint64) uint64 {
	r.p.lastUsed.Store(used)
	r.p.evals.Add(1)
	return r.inner.Evaluate(scope, used)
}

func (p *probe) reportTo(e *env) {
	e.report("limit", p.limit.Load())
	e.report("forced_gcs", p.forced.Load())
	e.report("gcs_seen", p.gcs.Load())
	e.report("evaluations", p.evals.Load())
}

// pressure returns the workload of the pressure scenarios: hold
// livePercent of the cap in live heap, then allocate churnBytes of garbage
// at the churnPace rate.
// With the watchdog, CgroupDriven must report the cap as the limit and force
// at least one GC. Without it, the Go runtime's default pacer (next GC at
// twice the live heap) overshoots the cap, and the worker is expected to be
// OOM-killed before it reports "completed".
func pressure(withWatchdog bool) func(e *env) error {
	return func(e *env) error {
		var p *probe
		if withWatchdog {
			p = newProbe()
			defer p.unreg()
			err, stop := watchdog.CgroupDriven(frequency, p.ctor)
			if err != nil {
				return fmt.Errorf("CgroupDriven: %w", err)
			}
			defer stop()
			if got := p.limit.Load(); got != capBytes {
				p.reportTo(e)
				return fmt.Errorf("CgroupDriven gave the policy a limit of %d bytes; the cap is %d", got, uint64(capBytes))
			}
		}
		if err := load(e, capBytes, capBytes*livePercent/100, churnBytes); err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		p.reportTo(e)
		if p.forced.Load() == 0 {
			return fmt.Errorf("the watchdog forced no GC while the live heap sat at %d%% of the cap", livePercent)
		}
		return nil
	}
}

// load holds live bytes of heap, then allocates churn bytes of garbage at
// the churnPace rate, sampling the cgroup's usage against limit.
func load(e *env, limit, live, churn uint64) error {
	smp := startSampler(e, limit)
	start := time.Now()
	held := fill(int(live / chunk))
	pace, err := churnPace()
	if err != nil {
		return err
	}
	e.report("churn_pace", pace)
	var ring [4][]byte
	next := time.Now()
	for i := uint64(0); i < churn/chunk; i++ {
		ring[i%uint64(len(ring))] = touch(make([]byte, chunk))
		if next = next.Add(pace); pace > 0 {
			time.Sleep(time.Until(next))
		}
	}
	runtime.KeepAlive(held)
	e.report("completed", fmt.Sprintf("%.1fs", time.Since(start).Seconds()))
	smp.finish(e)
	return nil
}

// churnPace is the time per chunk of garbage: 1/256 s (256 MiB/s, a busy
// service) by default; VMTEST_CHURN=<MiB/s> sets another rate, and
// VMTEST_CHURN=burst allocates as fast as the CPU allows. init copies it
// from vmtest.churn= on the kernel command line.
func churnPace() (time.Duration, error) {
	switch v := os.Getenv("VMTEST_CHURN"); v {
	case "":
		return time.Second / 256, nil
	case "burst":
		return 0, nil
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("VMTEST_CHURN=%q: want a rate in MiB/s or \"burst\"", v)
		}
		return time.Second / time.Duration(n), nil
	}
}

// fill returns n chunks with every page written, so they are resident.
func fill(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = touch(make([]byte, chunk))
	}
	return out
}

func touch(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

// consoleLogger passes the watchdog's warnings and errors, and the first of
// its info lines, to the console; debug lines are dropped.
type consoleLogger struct{ infos atomic.Int64 }

func (*consoleLogger) Debugf(string, ...interface{}) {}

func (l *consoleLogger) Infof(t string, args ...interface{}) {
	if l.infos.Add(1) <= 10 {
		l.print("INFO", t, args...)
	}
}

func (l *consoleLogger) Warnf(t string, args ...interface{}) { l.print("WARN", t, args...) }

func (l *consoleLogger) Errorf(t string, args ...interface{}) { l.print("ERROR", t, args...) }

func (*consoleLogger) print(level, t string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "[watchdog] %s %s\n", level, strings.TrimSpace(fmt.Sprintf(t, args...)))
}
