// Package cgtest runs child processes inside fresh, memory-capped cgroup v1
// memory groups, for tests and the benchmark runner. Groups are children of
// this process's own v1 memory cgroup; creating them needs root and a
// writable v1 memory hierarchy (see Available). This process never joins a
// group: only the children started through Group.Command do.
package cgtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raulk/go-watchdog/internal/cgroups"
)

// Available reports whether New can work here: the process runs as root and
// its memory cgroup is on a writable cgroup v1 hierarchy. When not, why says
// which requirement failed. It probes by creating and removing an empty
// child cgroup.
func Available() (ok bool, why string) {
	if os.Geteuid() != 0 {
		return false, fmt.Sprintf("cgtest needs root (euid is %d)", os.Geteuid())
	}
	parent, err := parentDir()
	if err != nil {
		return false, err.Error()
	}
	probe := filepath.Join(parent, "cgtest-probe-"+randomSuffix())
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false, fmt.Sprintf("cgtest: the v1 memory cgroup %s is not writable: %v", parent, err)
	}
	if err := os.Remove(probe); err != nil {
		return false, fmt.Sprintf("cgtest: removing probe cgroup %s: %v", probe, err)
	}
	return true, ""
}

// parentDir returns this process's cgroup v1 memory directory.
func parentDir() (string, error) {
	r, err := cgroups.Open(cgroups.Config{})
	if err != nil {
		return "", fmt.Errorf("cgtest: finding this process's memory cgroup: %w", err)
	}
	defer r.Close()
	if r.Version() != 1 {
		return "", fmt.Errorf("cgtest: this process's memory cgroup %s is cgroup v%d; cgtest needs v1", r.Path(), r.Version())
	}
	return r.Path(), nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Group is a cgroup v1 memory group created by New.
type Group struct {
	// Dir is the group's directory, e.g.
	// /sys/fs/cgroup/memory/<own cgroup>/<name>-<random>.
	Dir string

	mu      sync.Mutex
	removed bool
}

// New creates the group <own v1 memory cgroup>/<name>-<random hex> and, when
// limit is not 0, caps it at limit bytes through memory.limit_in_bytes, and through
// memory.memsw.limit_in_bytes (memory plus swap) when the kernel accounts
// swap, so that swapping cannot hide usage. The caller must call Remove.
func New(name string, limit uint64) (*Group, error) {
	parent, err := parentDir()
	if err != nil {
		return nil, err
	}
	g := &Group{Dir: filepath.Join(parent, name+"-"+randomSuffix())}
	if err := os.Mkdir(g.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgtest: creating cgroup: %w", err)
	}
	if limit == 0 { // no limit: the kernel's default for a new group
		return g, nil
	}
	if err := g.SetLimit(limit); err != nil {
		return nil, errors.Join(err, os.Remove(g.Dir))
	}
	return g, nil
}

// Command returns a command that runs name with args inside the group: a
// /bin/sh wrapper writes its own PID to the group's cgroup.procs and then
// execs the program, so the program never runs outside the group and keeps
// the wrapper's PID (cmd.Process.Pid). If joining fails, the command exits
// with status 2 before the program starts.
func (g *Group) Command(name string, args ...string) *exec.Cmd {
	const script = `echo $$ > "$0" || exit 2; exec "$@"`
	argv := append([]string{"-c", script, filepath.Join(g.Dir, "cgroup.procs"), name}, args...)
	return exec.Command("/bin/sh", argv...)
}

// Add moves the process pid, which the caller started, into the group by
// writing it to cgroup.procs. Its memory charged so far stays where it was.
// For a process from Command, call it once the program runs: a wrapper that
// has not joined its first group yet would move itself back there.
func (g *Group) Add(pid int) error {
	file := filepath.Join(g.Dir, "cgroup.procs")
	if err := os.WriteFile(file, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("cgtest: moving PID %d into %s: %w", pid, g.Dir, err)
	}
	return nil
}

// SetLimit changes the group's limit to limit bytes, on
// memory.limit_in_bytes and, when the kernel accounts swap, on
// memory.memsw.limit_in_bytes, in the order the kernel accepts (memory plus
// swap may never be below memory). Lowering it below the group's usage makes
// the kernel reclaim, and fails with EBUSY when it cannot.
func (g *Group) SetLimit(limit uint64) error {
	mem := filepath.Join(g.Dir, "memory.limit_in_bytes")
	files := []string{mem}
	if memsw := filepath.Join(g.Dir, "memory.memsw.limit_in_bytes"); fileExists(memsw) {
		old, err := g.readBytes("memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if limit > old {
			files = []string{memsw, mem}
		} else {
			files = []string{mem, memsw}
		}
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(strconv.FormatUint(limit, 10)), 0o644); err != nil {
			return fmt.Errorf("cgtest: setting %s to %d bytes: %w", f, limit, err)
		}
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// OOMKills returns how many processes the kernel OOM killer killed in the
// group: oom_kill in memory.oom_control, which kernels before 4.13 lack.
func (g *Group) OOMKills() (uint64, error) {
	file := filepath.Join(g.Dir, "memory.oom_control")
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("cgtest: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cgtest: %s: oom_kill value %q is not an unsigned integer", file, v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("cgtest: %s has no oom_kill line (kernel older than 4.13?)", file)
}

// MaxUsage returns the peak usage in bytes: memory.max_usage_in_bytes.
func (g *Group) MaxUsage() (uint64, error) { return g.readBytes("memory.max_usage_in_bytes") }

// Usage returns the current usage in bytes: memory.usage_in_bytes.
func (g *Group) Usage() (uint64, error) { return g.readBytes("memory.usage_in_bytes") }

func (g *Group) readBytes(name string) (uint64, error) {
	file := filepath.Join(g.Dir, name)
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("cgtest: %w", err)
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgtest: %s: value %q is not a byte count", file, s)
	}
	return v, nil
}

// removeTimeout bounds how long Remove waits for killed tasks to leave.
const removeTimeout = 10 * time.Second

// Remove kills (SIGKILL) the processes still in the group, and only those,
// waits up to 10 s for the group to empty, and removes its directory. It is
// idempotent; a group whose directory is already gone counts as removed.
// A Command wrapper that has not joined yet when the directory goes exits
// with status 2, so call Remove after the children have started.
func (g *Group) Remove() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed {
		return nil
	}
	deadline := time.Now().Add(removeTimeout)
	for {
		pids, err := g.pids()
		if errors.Is(err, fs.ErrNotExist) {
			g.removed = true
			return nil
		}
		if err != nil {
			return err
		}
		for _, pid := range pids {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill() // it may have exited already
			}
		}
		if len(pids) == 0 {
			err := os.Remove(g.Dir)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				g.removed = true
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cgtest: removing %s: %w", g.Dir, err)
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("cgtest: %s still holds PIDs %v %v after SIGKILL", g.Dir, pids, removeTimeout)
		}
		time.Sleep(5 * time.Millisecond) // let the kernel finish the exits
	}
}

// pids lists the group's cgroup.procs.
func (g *Group) pids() ([]int, error) {
	file := filepath.Join(g.Dir, "cgroup.procs")
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cgtest: %s: %q is not a PID", file, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
