//go:build linux

package main

// Scenarios whose cgroup changes under a running watchdog: init moves the
// worker to another cgroup and removes the first (v2-move), or lowers
// memory.max below what the policy constructor accepts (v2-shrink). The
// watchdog re-reads the limit every 5 s (limitRefresh in loop.go, not
// settable from here), so the worker polls Snapshot until it shows the new
// cgroup, with a deadline, instead of sleeping.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// Sizes of the dynamic scenarios.
const (
	moveFromLimit = 512 * mib // v2-move's first cgroup, and v2-shrink's limit before
	moveToLimit   = 160 * mib // v2-move's second cgroup
	moveLive      = 100 * mib // live heap v2-move holds once moved
	shrinkLimit   = 64 * mib  // v2-shrink's limit after
	shrinkLive    = 32 * mib  // live heap v2-shrink holds once shrunk
	policyMin     = 100 * mib // v2-shrink's policy constructor rejects limits under this
	// followBound is how long the watchdog may take to show a change: a
	// limit refresh every 5 s plus the sample that makes it, on a slow
	// emulated CPU.
	followBound = 20 * time.Second
)

// stdin is the worker's end of the step protocol.
var stdin = bufio.NewReader(os.Stdin)

// step asks init to perform a named step on this worker and waits for its
// answer (spawn in process.go): nil for "OK <name>", an error for "FAIL".
func (e *env) step(name string) error {
	fmt.Printf("STEP %s\n", name)
	line, err := stdin.ReadString('\n')
	if err != nil {
		return fmt.Errorf("step %s: reading init's answer: %w", name, err)
	}
	line = strings.TrimSpace(line)
	if line == "OK "+name {
		return nil
	}
	return fmt.Errorf("step %s: init answered %q", name, line)
}

// await polls Snapshot every 20 ms until ok holds for it, for at most
// followBound, and returns the snapshot and how long it took.
func await(ok func(watchdog.Stats) bool) (watchdog.Stats, time.Duration, error) {
	start := time.Now()
	for {
		s := watchdog.Snapshot()
		if ok(s) {
			return s, time.Since(start), nil
		}
		if time.Since(start) > followBound {
			return s, time.Since(start), fmt.Errorf("after %v Snapshot still shows limit %d bytes, soft limit %d bytes, source %q",
				followBound, s.Limit, s.SoftLimit, s.Source)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reportSnapshot(e *env, prefix string, s watchdog.Stats) {
	e.report(prefix+"_source", s.Source)
	e.report(prefix+"_limit", s.Limit)
	e.report(prefix+"_soft_limit", s.SoftLimit)
	e.report(prefix+"_threshold", s.Threshold)
}

func moveSetup(s *scenario) (string, error) {
	if _, err := makeCgroup(s.version, s.movedTo, moveToLimit, false); err != nil {
		return "", err
	}
	return makeCgroup(s.version, s.name+"-a", moveFromLimit, false)
}

// moveControl moves the worker (all its threads: cgroup.procs takes a
// process) to the second cgroup, then removes the first, now empty.
func moveControl(s *scenario, dir string, pid int, step string) error {
	if step != "move" {
		return fmt.Errorf("unknown step %q", step)
	}
	to := filepath.Join(versionRoot(s.version), s.movedTo)
	if err := writeFile(to+"/cgroup.procs", strconv.Itoa(pid)); err != nil {
		return err
	}
	if left, err := readTrim(dir + "/cgroup.procs"); err != nil || left != "" {
		return fmt.Errorf("%s/cgroup.procs = %q (%v) after the move; want empty", dir, left, err)
	}
	return os.Remove(dir)
}

// moved starts CgroupDriven in the first cgroup, asks init to move it, then
// checks that Snapshot follows the second cgroup (its limit, a soft limit
// under it, its path in Source) and that the policy was rebuilt for the new
// limit, and survives a live heap that the old limit would let outgrow the
// new one.
func moved(e *env) error {
	p := newProbe()
	defer p.unreg()
	err, stop := watchdog.CgroupDriven(frequency, p.ctor)
	if err != nil {
		return fmt.Errorf("CgroupDriven: %w", err)
	}
	defer stop()
	before := watchdog.Snapshot()
	reportSnapshot(e, "before", before)
	if before.Limit != moveFromLimit || !strings.HasSuffix(before.Source, "/v2-move-a") {
		return fmt.Errorf("before the move Snapshot shows limit %d bytes from %q; want %d bytes from .../v2-move-a", before.Limit, before.Source, uint64(moveFromLimit))
	}
	if err := e.step("move"); err != nil {
		return err
	}
	self, _ := readTrim("/proc/self/cgroup")
	e.report("proc_self_cgroup", self)
	e.dir = filepath.Join(versionRoot(e.version), "v2-move-b") // where the sampler reads usage
	after, took, err := await(func(s watchdog.Stats) bool {
		return s.Limit == moveToLimit && s.SoftLimit > 0 && s.SoftLimit < moveToLimit && strings.HasSuffix(s.Source, "/v2-move-b")
	})
	reportSnapshot(e, "after", after)
	e.report("followed_ms", took.Milliseconds())
	if err != nil {
		return fmt.Errorf("after the move: %w", err)
	}
	if got := p.limit.Load(); got != moveToLimit {
		return fmt.Errorf("the policy was last built for %d bytes; want %d (the new cgroup's limit)", got, uint64(moveToLimit))
	}
	if err := load(e, moveToLimit, moveLive, 8*moveToLimit); err != nil {
		return err
	}
	p.reportTo(e)
	return nil
}

func shrinkSetup(s *scenario) (string, error) {
	return makeCgroup(s.version, s.name, moveFromLimit, false)
}

// shrinkControl lowers memory.max. The worker holds little memory then, so
// the kernel has nothing to reclaim.
func shrinkControl(s *scenario, dir string, pid int, step string) error {
	if step != "shrink" {
		return fmt.Errorf("unknown step %q", step)
	}
	return writeFile(dir+"/memory.max", strconv.Itoa(shrinkLimit))
}

// shrunk starts CgroupDriven with a policy constructor that rejects limits
// under policyMin, asks init to lower memory.max under it, then checks that
// the constructor was asked for the new limit and that Snapshot follows it
// anyway (the limit, a soft limit under it), and survives a workload that
// the old limit's soft limit would let outgrow the new one.
func shrunk(e *env) error {
	var rejected atomic.Uint64
	ctor := func(limit uint64) (watchdog.Policy, error) {
		if limit < policyMin {
			rejected.Store(limit)
			return nil, errors.New("this policy needs a limit of at least 100 MiB")
		}
		return watchdog.NewWatermarkPolicy(watermarks...)(limit)
	}
	err, stop := watchdog.CgroupDriven(frequency, ctor)
	if err != nil {
		return fmt.Errorf("CgroupDriven: %w", err)
	}
	defer stop()
	before := watchdog.Snapshot()
	reportSnapshot(e, "before", before)
	if before.Limit != moveFromLimit {
		return fmt.Errorf("before the change Snapshot shows limit %d bytes; want %d", before.Limit, uint64(moveFromLimit))
	}
	if err := e.step("shrink"); err != nil {
		return err
	}
	after, took, err := await(func(s watchdog.Stats) bool {
		return s.Limit == shrinkLimit && s.SoftLimit > 0 && s.SoftLimit < shrinkLimit
	})
	reportSnapshot(e, "after", after)
	e.report("followed_ms", took.Milliseconds())
	e.report("rejected_limit", rejected.Load())
	if err != nil {
		return fmt.Errorf("after memory.max went to %d bytes: %w", uint64(shrinkLimit), err)
	}
	if got := rejected.Load(); got != shrinkLimit {
		return fmt.Errorf("the policy constructor was not asked for (and did not reject) the new limit: last rejected %d bytes", got)
	}
	return load(e, shrinkLimit, shrinkLive, 8*shrinkLimit)
}
