//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Sizes of the workloads. The VM has 512 MiB.
const (
	capBytes     = 96 * mib  // the memory limit of the pressure scenarios
	ramDiskBytes = 256 * mib // /dev/ram0, read through the page cache in v2-workingset
	ramDisk      = "/dev/ram0"
)

// scenario is one in-VM check. setup runs in init and returns the cgroup the
// worker joins; work runs in the worker process; control, when set, runs in
// init when the worker asks for a step (env.step), to change its cgroup
// while it runs; check runs in init after the worker has ended and judges
// it from the outside (exit status, the cgroup's OOM counter).
type scenario struct {
	name         string
	version      int  // cgroup version the VM mounts
	ns           bool // Docker-style: the worker gets its own cgroup, mount and PID namespaces
	needsRAMDisk bool
	setup        func(s *scenario) (dir string, err error)
	work         func(e *env) error
	control      func(s *scenario, dir string, pid int, step string) error
	// movedTo, when set, is the cgroup (relative to the version's root)
	// that control moves the worker to: check and the details look there.
	movedTo string
	check   func(s *scenario, dir string, info exitInfo) error
}

var scenarios = []*scenario{
	// 1, 2: a container (cgroup namespace, PID 1) capped at capBytes whose Go
	// heap holds 60% of the cap while churning garbage; the watchdog must
	// find the cap and force GCs, and the worker must survive.
	{name: "v2-docker", version: 2, ns: true, setup: capped, work: pressure(true), check: survived},
	{name: "v1-docker", version: 1, ns: true, setup: capped, work: pressure(true), check: survived},
	// 3: the cap is on the parent only; the worker's own cgroup has none.
	{name: "v2-parent-limit", version: 2, setup: parentCapped, work: pressure(true), check: survived},
	{name: "v1-parent-limit", version: 1, setup: parentCapped, work: pressure(true), check: survived},
	// 4: no cap anywhere: CgroupDriven refuses, SystemDriven starts.
	{name: "v2-nolimit", version: 2, setup: uncapped, work: noLimit, check: survived},
	{name: "v1-nolimit", version: 1, setup: uncapped, work: noLimit, check: survived},
	// 5: the cgroup fills with reclaimable page cache, the heap stays small:
	// no forced GC.
	{name: "v2-workingset", version: 2, needsRAMDisk: true, setup: capped, work: workingSet, check: survived},
	{name: "v1-workingset", version: 1, needsRAMDisk: true, setup: capped, work: workingSet, check: survived},
	// 6: the workload of 1 without the watchdog is OOM-killed: the cap is real.
	{name: "v2-oomkill", version: 2, setup: capped, work: pressure(false), check: oomKilled},
	// 7: init moves the running worker to another cgroup with a smaller
	// limit and removes the first: the watchdog must follow (dynamic.go).
	{name: "v2-move", version: 2, setup: moveSetup, work: moved, control: moveControl, movedTo: "v2-move-b", check: survived},
	// 8: init lowers memory.max below what the policy constructor accepts:
	// the watchdog must follow the limit all the same (dynamic.go).
	{name: "v2-shrink", version: 2, setup: shrinkSetup, work: shrunk, control: shrinkControl, check: survived},
}

func lookup(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

// run sets the scenario up, runs its worker and checks the outcome. The
// details describe what was measured, for the result line.
func (s *scenario) run() (details string, err error) {
	dir, err := s.setup(s)
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	mode := "worker"
	if s.ns {
		mode = "enter"
	}
	var control func(pid int, step string) error
	if s.control != nil {
		control = func(pid int, step string) error { return s.control(s, dir, pid, step) }
	}
	info, err := spawn(control, mode, s.name, dir)
	if s.movedTo != "" {
		dir = filepath.Join(versionRoot(s.version), s.movedTo)
	}
	var kv []string
	for k, v := range info.report {
		kv = append(kv, k+"="+strings.ReplaceAll(v, " ", "_"))
	}
	sort.Strings(kv)
	kv = append(kv, "worker="+strings.ReplaceAll(info.String(), " ", "_"))
	if n, err := oomKills(s.version, dir); err == nil {
		kv = append(kv, fmt.Sprintf("oom_kill=%d", n))
	}
	if _, peak, err := usage(s.version, dir); err == nil && peak > 0 {
		kv = append(kv, fmt.Sprintf("peak_mib=%.1f", float64(peak)/mib))
	}
	details = strings.Join(kv, " ")
	if err != nil {
		return details, err
	}
	return details, s.check(s, dir, info)
}

func capped(s *scenario) (string, error) {
	return makeCgroup(s.version, s.name, capBytes, false)
}

func uncapped(s *scenario) (string, error) {
	return makeCgroup(s.version, s.name, 0, false)
}

// parentCapped caps <name> and puts the worker in <name>/child, which has no
// limit of its own; it checks that the child's limit file really says so.
func parentCapped(s *scenario) (string, error) {
	if _, err := makeCgroup(s.version, s.name, capBytes, true); err != nil {
		return "", err
	}
	dir, err := makeCgroup(s.version, s.name+"/child", 0, false)
	if err != nil {
		return "", err
	}
	file, want := dir+"/memory.max", "max"
	if s.version == 1 {
		file, want = dir+"/memory.limit_in_bytes", "9223372036854771712"
	}
	if got, err := readTrim(file); err != nil || got != want {
		return "", fmt.Errorf("%s = %q (%v); want %q", file, got, err, want)
	}
	return dir, nil
}

// survived: the worker exited 0 after reporting success, and the cgroup saw
// no OOM kill.
func survived(s *scenario, dir string, info exitInfo) error {
	if info.signal != 0 || info.code != 0 || info.report["ok"] != "1" {
		return fmt.Errorf("worker failed: %s: %s", info, info.report["error"])
	}
	n, err := oomKills(s.version, dir)
	if err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("the cgroup recorded %d OOM kills", n)
	}
	return nil
}

// oomKilled: the worker died of SIGKILL before finishing its workload and
// the cgroup recorded the OOM kill.
func oomKilled(s *scenario, dir string, info exitInfo) error {
	if info.signal != syscall.SIGKILL {
		return fmt.Errorf("worker %s; want killed by SIGKILL", info)
	}
	if info.report["completed"] != "" {
		return fmt.Errorf("worker finished its workload before it was killed")
	}
	n, err := oomKills(s.version, dir)
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("memory.events oom_kill = %d; want >= 1", n)
	}
	return nil
}
