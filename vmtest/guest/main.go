//go:build linux

// Command guest is the /init (PID 1) of the vmtest virtual machines.
//
// Run with no arguments it is init: it mounts proc, sysfs, devtmpfs, tmpfs
// and the cgroup hierarchy the kernel command line asks for
// (vmtest.cgroup=v1|v2), runs each scenario of vmtest.scenarios=a,b,... in
// a child process, prints one line per scenario on the console,
//
//	VMTEST RESULT <scenario> PASS|FAIL <details>
//
// then "VMTEST DONE", and powers the machine off. Setup failures print
// "VMTEST FATAL <reason>" instead. With vmtest.bench=<plan file> it runs the
// survival benchmark of that plan instead (bench.go).
//
// Its other modes are the children it starts by re-executing itself:
//
//	/init enter <scenario> <cgroup dir>   join the cgroup, then start the worker
//	                                      in new cgroup, mount and PID namespaces
//	/init worker <scenario> <cgroup dir>  join the cgroup ("-": already in it,
//	                                      namespaced) and run the scenario's workload
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) >= 4 {
		switch os.Args[1] {
		case "enter":
			os.Exit(enter(os.Args[2], os.Args[3]))
		case "worker":
			os.Exit(worker(os.Args[2], os.Args[3]))
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "guest: run me as /init of a VM, or as: enter|worker <scenario> <dir>")
		os.Exit(2)
	}
	initMain()
}

// initMain is PID 1: it never returns, it powers the VM off.
func initMain() {
	defer powerOff()
	start := time.Now()
	if err := mountBase(); err != nil {
		fatal("mounting the base file systems: %v", err)
		return
	}
	params, err := cmdline()
	if err != nil {
		fatal("%v", err)
		return
	}
	if plan := params["vmtest.bench"]; plan != "" {
		if err := benchMain(benchPlanPath(plan)); err != nil {
			fatal("bench: %v", err)
			return
		}
		fmt.Printf("VMTEST DONE in %.1fs\n", time.Since(start).Seconds())
		return
	}
	var todo []*scenario
	for _, name := range strings.Split(params["vmtest.scenarios"], ",") {
		s := lookup(name)
		if s == nil {
			fatal("unknown scenario %q", name)
			return
		}
		todo = append(todo, s)
	}
	if churn := params["vmtest.churn"]; churn != "" {
		os.Setenv("VMTEST_CHURN", churn) // inherited by the workers
	}
	version := params["vmtest.cgroup"]
	for _, s := range todo {
		if fmt.Sprintf("v%d", s.version) != version {
			fatal("scenario %s needs cgroup v%d but this VM mounts %s", s.name, s.version, version)
			return
		}
	}
	if err := mountCgroups(version); err != nil {
		fatal("mounting cgroup %s: %v", version, err)
		return
	}
	for _, s := range todo {
		if s.needsRAMDisk {
			if err := loadRAMDisk(); err != nil {
				fatal("loading brd: %v", err)
				return
			}
			break
		}
	}
	for _, s := range todo {
		t0 := time.Now()
		details, err := s.run()
		verdict := "PASS"
		if err != nil {
			verdict, details = "FAIL", err.Error()+"; "+details
		}
		fmt.Printf("VMTEST RESULT %s %s %s (%.1fs)\n", s.name, verdict, oneLine(details), time.Since(t0).Seconds())
	}
	fmt.Printf("VMTEST DONE in %.1fs\n", time.Since(start).Seconds())
}

func fatal(format string, args ...any) {
	fmt.Printf("VMTEST FATAL %s\n", oneLine(fmt.Sprintf(format, args...)))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func powerOff() {
	if p := recover(); p != nil {
		fatal("init panicked: %v", p)
	}
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Printf("VMTEST FATAL power off: %v\n", err)
	}
	select {} // PID 1 must not exit: that panics the kernel
}

// mountBase mounts what every mode needs.
func mountBase() error {
	for _, m := range []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	return nil
}

// cmdline returns the key=value words of the kernel command line.
func cmdline() (map[string]string, error) {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil, err
	}
	params := map[string]string{}
	for _, w := range strings.Fields(string(b)) {
		if k, v, ok := strings.Cut(w, "="); ok {
			params[k] = v
		}
	}
	if params["vmtest.bench"] == "" && (params["vmtest.scenarios"] == "" || params["vmtest.cgroup"] == "") {
		return nil, fmt.Errorf("kernel command line %q lacks vmtest.scenarios= or vmtest.cgroup=", strings.TrimSpace(string(b)))
	}
	return params, nil
}

// mountCgroups mounts cgroup2 with the memory controller enabled for
// children (v2), or a tmpfs with the v1 memory hierarchy under it (v1). A
// controller can be bound to one hierarchy only, so a VM picks one.
func mountCgroups(version string) error {
	switch version {
	case "v2":
		if err := unix.Mount("cgroup2", cgroupRoot, "cgroup2", 0, ""); err != nil {
			return err
		}
		return writeFile(cgroupRoot+"/cgroup.subtree_control", "+memory")
	case "v1":
		if err := unix.Mount("tmpfs", cgroupRoot, "tmpfs", 0, "mode=755"); err != nil {
			return err
		}
		if err := os.Mkdir(memoryV1Root, 0o755); err != nil {
			return err
		}
		return unix.Mount("cgroup", memoryV1Root, "cgroup", 0, "memory")
	}
	return fmt.Errorf("vmtest.cgroup=%q: want v1 or v2", version)
}

// loadRAMDisk loads brd from the initramfs, creating /dev/ram0, a RAM block
// device whose buffered reads fill the reader's page cache.
func loadRAMDisk() error {
	f, err := os.Open("/lib/brd.ko")
	if err != nil {
		return err
	}
	defer f.Close()
	params := fmt.Sprintf("rd_nr=1 rd_size=%d", ramDiskBytes/1024)
	if err := unix.FinitModule(int(f.Fd()), params, 0); err != nil {
		return fmt.Errorf("finit_module: %w", err)
	}
	return waitFor(10*time.Second, func() bool {
		_, err := os.Stat(ramDisk)
		return err == nil
	})
}

// waitFor polls cond every 10 ms until it holds or the bound passes.
func waitFor(bound time.Duration, cond func() bool) error {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v", bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
