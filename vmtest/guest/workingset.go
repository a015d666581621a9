//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// noLimit: with no memory limit on the cgroup or any ancestor, CgroupDriven
// must return an error (wrapping ErrNoCgroupLimit) and start nothing, and
// SystemDriven(0, ...) must start with the total memory of the VM as limit.
func noLimit(e *env) error {
	p := newProbe()
	defer p.unreg()
	err, stop := watchdog.CgroupDriven(frequency, p.ctor)
	if err == nil {
		stop()
		p.reportTo(e)
		return fmt.Errorf("CgroupDriven started without any cgroup limit")
	}
	e.report("cgroup_error", oneLine(err.Error()))
	if !errors.Is(err, watchdog.ErrNoCgroupLimit) {
		return fmt.Errorf("CgroupDriven error %q does not wrap ErrNoCgroupLimit", err)
	}
	if stop != nil {
		return fmt.Errorf("CgroupDriven returned a stop function with its error")
	}
	err, stop = watchdog.SystemDriven(0, frequency, p.ctor)
	if err != nil {
		return fmt.Errorf("SystemDriven fallback: %w", err)
	}
	defer stop()
	total, err := memTotal()
	if err != nil {
		return err
	}
	e.report("system_limit", p.limit.Load())
	e.report("memtotal", total)
	if p.limit.Load() != total {
		return fmt.Errorf("SystemDriven(0) gave the policy %d bytes; MemTotal is %d", p.limit.Load(), total)
	}
	return nil
}

// memTotal returns MemTotal of /proc/meminfo in bytes.
func memTotal() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

// workingSet reads all of /dev/ram0 (more than the cap) through the page
// cache, so the cgroup's usage sits near its cap, made of inactive file
// pages the kernel reclaims at will, while the Go heap stays small. The
// watchdog measures the working set (usage less inactive file), so the
// usage it hands the policy must stay below the first watermark and it must
// force no GC. memory.stat is reported as evidence that the cache is there.
func workingSet(e *env) error {
	p := newProbe()
	defer p.unreg()
	err, stop := watchdog.CgroupDriven(frequency, p.ctor)
	if err != nil {
		return fmt.Errorf("CgroupDriven: %w", err)
	}
	defer stop()
	if p.limit.Load() != capBytes {
		return fmt.Errorf("CgroupDriven limit %d bytes; the cap is %d", p.limit.Load(), uint64(capBytes))
	}
	// Keep the device open until the end: the kernel drops a block device's
	// page cache when its last opener closes it.
	f, err := os.Open(ramDisk)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{f}, make([]byte, mib))
	if err != nil {
		return fmt.Errorf("reading %s: %w", ramDisk, err)
	}
	e.report("read_mib", fmt.Sprintf("%d_in_%.1fs", n/mib, time.Since(start).Seconds()))

	// A GC makes the watchdog evaluate the policy with the usage it measures
	// now, while the cache is in place; wait for that evaluation.
	before := p.evals.Load()
	runtime.GC()
	if err := waitFor(10*time.Second, func() bool { return p.evals.Load() > before }); err != nil {
		return fmt.Errorf("the watchdog did not evaluate the policy after a GC: %w", err)
	}
	used := p.lastUsed.Load()
	cur, _, err := usage(e.version, e.dir)
	if err != nil {
		return err
	}
	st, err := memStat(e.version, e.dir)
	if err != nil {
		return err
	}
	for _, k := range []string{"anon", "file", "active_file", "inactive_file", "shmem"} {
		e.report("stat_"+k+"_mib", fmt.Sprintf("%.1f", float64(st[k])/mib))
	}
	e.report("current_mib", fmt.Sprintf("%.1f", float64(cur)/mib))
	e.report("policy_used_mib", fmt.Sprintf("%.1f", float64(used)/mib))
	p.reportTo(e)
	switch first := uint64(watermarks[0] * capBytes); {
	case st["inactive_file"] < capBytes/2:
		return fmt.Errorf("inactive_file is %d bytes; the workload did not fill the cache to half the cap", st["inactive_file"])
	case cur < first:
		return fmt.Errorf("usage %d bytes is below the first watermark; the scenario proves nothing", cur)
	case used >= first:
		return fmt.Errorf("the watchdog measured %d bytes (usage %d, inactive_file %d): page cache counted as used", used, cur, st["inactive_file"])
	case p.forced.Load() != 0:
		return fmt.Errorf("the watchdog forced %d GCs over reclaimable page cache", p.forced.Load())
	}
	return nil
}
