//go:build linux

package cgroupcheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cgroupsv3 "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/raulk/go-watchdog/internal/cgroups"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// childEnv, set to "1", makes the test binary run child instead of the
// tests.
const childEnv = "CGROUPCHECK_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// child prints "ready", then runs one command per input line and prints
// "done" after each:
//
//	alloc <MiB>          allocates and touches that much heap, and keeps it
//	cache <file> <MiB>   writes a file that large and fsyncs it (clean page cache)
//
// It exits at the end of its input. Its garbage collector is off, so what it
// holds stays put between commands.
func child(in io.Reader, out io.Writer) int {
	debug.SetGCPercent(-1)
	var held [][]byte
	fmt.Fprintln(out, "ready")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var err error
		switch {
		case len(f) == 2 && f[0] == "alloc":
			var n int
			if n, err = strconv.Atoi(f[1]); err == nil {
				for i := 0; i < n; i++ {
					b := make([]byte, mib)
					for j := 0; j < len(b); j += 4096 { // every page
						b[j] = 1
					}
					held = append(held, b)
				}
			}
		case len(f) == 3 && f[0] == "cache":
			var n int
			if n, err = strconv.Atoi(f[2]); err == nil {
				err = writeSynced(f[1], n)
			}
		default:
			err = errors.New("unknown command")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cgroupcheck child: %q: %v\n", sc.Text(), err)
			return 2
		}
		fmt.Fprintln(out, "done")
	}
	runtime.KeepAlive(held)
	return 0
}

// writeSynced writes a file of n MiB and waits until it is on disk.
func writeSynced(file string, n int) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	buf := make([]byte, mib)
	for i := range buf {
		buf[i] = byte(i)
	}
	for i := 0; i < n; i++ {
		if _, err := f.Write(buf); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	return errors.Join(f.Sync(), f.Close())
}

// proc is a running child.
type proc struct {
	pid   int
	stdin io.Writer
	lines *bufio.Scanner
}

// startChild re-executes the test binary as a child, in this process's own
// cgroup, and waits until it runs. The child is killed when the test ends.
func startChild(t *testing.T) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by its PID; it may have exited already
		_ = cmd.Wait()
	})
	p := &proc{pid: cmd.Process.Pid, stdin: stdin, lines: bufio.NewScanner(stdout)}
	p.expect(t, "ready")
	return p
}

func (p *proc) expect(t *testing.T, want string) {
	t.Helper()
	require.True(t, p.lines.Scan(), "child exited before printing %q: %v", want, p.lines.Err())
	require.Equal(t, want, p.lines.Text())
}

// do sends the child a command and waits until it is done.
func (p *proc) do(t *testing.T, command string) {
	t.Helper()
	_, err := fmt.Fprintln(p.stdin, command)
	require.NoError(t, err)
	p.expect(t, "done")
}

// group is a cgroup v1 memory group the test created below its own.
type group struct {
	mount string // the v1 memory hierarchy's mount point
	path  string // the group in the hierarchy, as /proc/<pid>/cgroup names it
	dir   string // mount + path
}

var groupSeq atomic.Int32

// newGroup creates <own v1 memory cgroup>/cgcheck-<pid>-<n>, caps it at
// limit bytes (memory.limit_in_bytes and, where the kernel accounts swap,
// memory.memsw.limit_in_bytes), and removes it when the test ends, whatever
// the outcome. It skips the test when not root or when this process has no
// writable cgroup v1 memory hierarchy. The own cgroup is found with
// containerd's parser and the mount table, not with the code under test.
func newGroup(t *testing.T, limit uint64) *group {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("creating a memory cgroup needs root; euid is %d", euid)
	}
	paths, _, err := cgroupsv3.ParseCgroupFileUnified("/proc/self/cgroup")
	require.NoError(t, err)
	own, ok := paths["memory"]
	if !ok {
		t.Skip("no cgroup v1 memory hierarchy: /proc/self/cgroup has no memory line (a cgroup v2-only host?)")
	}
	mount, err := v1MemoryMount()
	require.NoError(t, err)
	if mount == "" {
		t.Skip("no cgroup v1 memory hierarchy mounted at its root in /proc/self/mountinfo")
	}
	if filepath.Base(mount) != "memory" {
		t.Skipf("containerd's cgroup1 wants the memory hierarchy at <root>/memory; it is mounted at %s", mount)
	}
	g := &group{mount: mount, path: path.Join(own, fmt.Sprintf("cgcheck-%d-%d", os.Getpid(), groupSeq.Add(1)))}
	g.dir = filepath.Join(mount, g.path)
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrNotExist) {
			t.Skipf("the cgroup v1 memory hierarchy is not writable here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { assert.NoError(t, g.remove()) })
	files := []string{"memory.limit_in_bytes"}
	if _, err := os.Stat(filepath.Join(g.dir, "memory.memsw.limit_in_bytes")); err == nil {
		files = append(files, "memory.memsw.limit_in_bytes") // after memory: it may not be below it
	}
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(g.dir, f), []byte(strconv.FormatUint(limit, 10)), 0o644))
	}
	return g
}

// v1MemoryMount returns the mount point of the cgroup v1 hierarchy with the
// memory controller, mounted at the hierarchy's root, or "".
func v1MemoryMount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" || f[3] != "/" {
			continue
		}
		for _, opt := range strings.Split(g[2], ",") {
			if opt == "memory" {
				return f[4], nil
			}
		}
	}
	return "", nil
}

// add moves the process pid into the group.
func (g *group) add(pid int) error {
	return os.WriteFile(filepath.Join(g.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// remove removes the group. By then the test's cleanup has killed and
// reaped the child; if a process is still there (only this test puts any
// there), it is killed and the removal retried until it leaves, for at most
// 10 s.
func (g *group) remove() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.Remove(g.dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing %s: %w", g.dir, err)
		}
		b, _ := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond) // the kernel finishes the exit
	}
}

// memoryOnly is a containerd hierarchy of the memory controller alone,
// mounted at mount.
func memoryOnly(mount string) cgroup1.Hierarchy {
	return func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{cgroup1.NewMemory(filepath.Dir(mount), cgroup1.OptionalSwap())}, nil
	}
}

// TestReadersAgreeWithContainerd starts a child in a fresh 64 MiB v1 memory
// cgroup, has it fill page cache and heap, and reads the group with the
// library's reader and with containerd/cgroups/v3's cgroup1 Stat: the
// child's placement, its usage, its limit and the clean file cache from
// memory.stat must agree.
func TestReadersAgreeWithContainerd(t *testing.T) {
	g := newGroup(t, 64*mib)
	cacheDir := t.TempDir()
	c := startChild(t)
	require.NoError(t, g.add(c.pid))

	// Both parsers place the child in the group: containerd's, and the
	// library's through the discovery a Reader for that PID runs.
	theirs, _, err := cgroupsv3.ParseCgroupFileUnified(fmt.Sprintf("/proc/%d/cgroup", c.pid))
	require.NoError(t, err)
	require.Equal(t, g.path, theirs["memory"])
	r, err := cgroups.Open(cgroups.Config{PID: c.pid})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.Equal(t, 1, r.Version())
	require.Equal(t, g.dir, r.Path())
	cg, err := cgroup1.Load(cgroup1.StaticPath(g.path), cgroup1.WithHierarchy(memoryOnly(g.mount)))
	require.NoError(t, err)

	c.do(t, "cache "+filepath.Join(cacheDir, "clean")+" 8")
	c.do(t, "alloc 24")
	compare(t, "after 8 MiB of file cache and 24 MiB of heap", r, cg, 64*mib)
	c.do(t, "alloc 8")
	compare(t, "after 8 MiB more heap", r, cg, 64*mib)
}

// figures are what both readers give for a group.
type figures struct {
	usage, limit, clean uint64
}

func readOurs(t *testing.T, r *cgroups.Reader) figures {
	t.Helper()
	var f figures
	var err error
	f.usage, err = r.Usage()
	require.NoError(t, err)
	f.clean, err = r.Reclaimable()
	require.NoError(t, err)
	f.limit, err = r.Limit()
	require.NoError(t, err)
	return f
}

// tolerance covers what moves between two reads of an idle group: the
// kernel batches its memory.stat counters per CPU (64 pages each) and keeps
// a per-CPU stock of precharged pages (64 each).
var tolerance = uint64(2*64*os.Getpagesize()*runtime.NumCPU()) + mib

// compare reads the group with the library's reader, then with
// containerd's, then with the library's again. The child is idle meanwhile,
// so containerd's figures must lie between the library's two, give or take
// the tolerance.
func compare(t *testing.T, when string, r *cgroups.Reader, cg cgroup1.Cgroup, limit uint64) {
	t.Helper()
	before := readOurs(t, r)
	m, err := cg.Stat()
	require.NoError(t, err)
	after := readOurs(t, r)

	mem := m.Memory
	theirs := figures{
		usage: mem.Usage.Usage,
		limit: min(mem.Usage.Limit, mem.HierarchicalMemoryLimit),
		clean: sub(mem.TotalActiveFile+mem.TotalInactiveFile, mem.TotalDirty+mem.TotalWriteback),
	}
	// In a group that has had transparent huge pages, Reclaimable adds the
	// charge that no counter explains (freed parts of huge pages): at most
	// usage less rss, cache and kernel memory.
	var huge uint64
	if mem.TotalRSSHuge > 0 {
		huge = sub(mem.Usage.Usage, mem.TotalRSS+mem.TotalCache+mem.Kernel.Usage)
	}
	t.Logf("%s: library %+v then %+v; containerd %+v (rss %d, cache %d, dirty %d, writeback %d, rss_huge %d); tolerance %d",
		when, before, after, theirs, mem.TotalRSS, mem.TotalCache, mem.TotalDirty, mem.TotalWriteback, mem.TotalRSSHuge, tolerance)

	assert.Equal(t, limit, theirs.limit, "%s: containerd's limit", when)
	assert.Equal(t, theirs.limit, before.limit, "%s: limit", when)
	assert.Equal(t, theirs.limit, after.limit, "%s: limit", when)
	agree(t, when+": usage", before.usage, after.usage, theirs.usage, theirs.usage)
	agree(t, when+": clean file cache", before.clean, after.clean, theirs.clean, theirs.clean+huge)
	// The comparisons are not of zeros: the heap and the file are charged.
	assert.Greater(t, theirs.usage, uint64(16*mib), "%s: usage", when)
	assert.Greater(t, theirs.clean, uint64(4*mib), "%s: clean file cache", when)
}

// agree checks that [theirsLo, theirsHi] meets the range the library's two
// reads span, widened by the tolerance.
func agree(t *testing.T, what string, ours1, ours2, theirsLo, theirsHi uint64) {
	t.Helper()
	lo, hi := sub(min(ours1, ours2), tolerance), max(ours1, ours2)+tolerance
	if theirsHi < lo || theirsLo > hi {
		t.Errorf("%s: the library read %d then %d, containerd %d..%d: more than %d bytes apart", what, ours1, ours2, theirsLo, theirsHi, tolerance)
	}
}

// sub is a - b, or 0 when b > a.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
