package watchdog_test

// The Linux side of the support for v1.3.0's verbatim tests: the cgroup
// tests' state and createMemoryCgroup, and how TestV130PublishedIsolated
// runs them, each in a 32 MiB cgroup v1 memory group it creates under its
// own memory cgroup and removes when the test ends. The go test process
// never moves: only the child process running the test joins the group.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raulk/go-watchdog/internal/cgroups"
	"github.com/raulk/go-watchdog/internal/cgtest"
)

// retained will hoard unreclaimable byte buffers in the heap.
var retained [][]byte

// v130CgroupLimit is the limit of v1.3.0's cgroup tests: the one
// TestCgroupsDriven_Create_Isolated passes to createMemoryCgroup, and the
// 32 MiB its Makefile gave the Docker container.
const v130CgroupLimit = 32 << 20

var isolatedCgroupTests = []isolatedTest{
	{"TestCgroupsDriven_Create_Isolated", runCreateIsolated},
	{"TestCgroupsDriven_Docker_Isolated", runDockerIsolated},
}

// createMemoryCgroup puts this process into a memory cgroup limited to
// limit bytes. v1.3.0's created the group and moved the test process
// itself; here the process is a child that TestV130PublishedIsolated
// started for this one test, in a group it created under its own memory
// cgroup and removes when the child has exited. This checks the group is
// that one (a child of this process's memory cgroup, limited to limit bytes
// of memory and of memory plus swap) and joins it.
func createMemoryCgroup(t *testing.T, limit uint64) {
	dir := os.Getenv(envV130Cgroup)
	if dir == "" {
		t.Skipf("%s is not set: TestV130PublishedIsolated creates the memory cgroup and runs this test in it", envV130Cgroup)
	}
	own, err := cgroups.Open(cgroups.Config{})
	require.NoError(t, err)
	ownDir, version := own.Path(), own.Version()
	require.NoError(t, own.Close())
	require.Equal(t, 1, version, "a cgroup v1 memory hierarchy")
	require.Equal(t, ownDir, filepath.Dir(dir), "the group is a child of this process's memory cgroup")
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if f == "memory.memsw.limit_in_bytes" && errors.Is(err, fs.ErrNotExist) {
			continue // the kernel does not account swap
		}
		require.NoError(t, err)
		require.Equal(t, strconv.FormatUint(limit, 10), strings.TrimSpace(string(b)), "%s of %s", f, dir)
	}
	procs := filepath.Join(dir, "cgroup.procs")
	require.NoError(t, os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0o644))
	now, err := cgroups.Open(cgroups.Config{})
	require.NoError(t, err)
	nowDir := now.Path()
	require.NoError(t, now.Close())
	require.Equal(t, dir, nowDir, "this process's memory cgroup after joining")
	t.Logf("PID %d joined the memory cgroup %s, limited to %d bytes", os.Getpid(), dir, limit)
}

// newIsolatedGroup creates a 32 MiB memory group under this process's own
// memory cgroup, removed (with any process of ours left in it killed) when
// the test ends, or skips the test when this machine cannot have one.
func newIsolatedGroup(t *testing.T, name string) *cgtest.Group {
	t.Helper()
	return cgtest.ForTest(t, "watchdog-v130-"+name, v130CgroupLimit)
}

// groupState says how g's memory went: for a failed child, whether the
// kernel OOM-killed it.
func groupState(g *cgtest.Group) func() string {
	return func() string {
		peak, perr := g.MaxUsage()
		kills, kerr := g.OOMKills()
		return fmt.Sprintf("memory cgroup %s: peak usage %d of %d bytes (%v), OOM kills %d (%v)", g.Dir, peak, v130CgroupLimit, perr, kills, kerr)
	}
}

// checkGroup checks that the test's 16 MiB were charged to g, so it ran
// inside it, and that nothing in it was OOM-killed.
func checkGroup(t *testing.T, g *cgtest.Group) {
	t.Helper()
	peak, err := g.MaxUsage()
	require.NoError(t, err)
	kills, err := g.OOMKills()
	if err != nil {
		t.Logf("OOM kills unknown: %v", err)
	}
	require.Zero(t, kills, "OOM kills in %s", g.Dir)
	require.GreaterOrEqual(t, peak, uint64(v130CgroupLimit/2), "the test's half of the limit was charged to %s", g.Dir)
	t.Logf("memory cgroup %s: peak usage %d of %d bytes, no OOM kill", g.Dir, peak, v130CgroupLimit)
}

// runCreateIsolated runs TestCgroupsDriven_Create_Isolated in a child whose
// createMemoryCgroup joins a group created here.
func runCreateIsolated(t *testing.T) {
	const name = "TestCgroupsDriven_Create_Isolated"
	if raceBuild {
		// The race detector's shadow memory is charged to the group too:
		// the test's 16 MiB come with more than the other 16 MiB.
		t.Skip(name + " runs in the non-race pass of make test: under -race the race detector's shadow memory of its 16 MiB does not fit in the other 16 MiB of the 32 MiB group")
	}
	g := newIsolatedGroup(t, "create")
	runIsolated(t, name, isolatedCommand(name, envV130Cgroup+"="+g.Dir), groupState(g))
	checkGroup(t, g)
}

// runDockerIsolated runs TestCgroupsDriven_Docker_Isolated as v1.3.0's
// Makefile did in Docker (--memory=32MiB, TEST_DOCKER_MEMLIMIT=33554432):
// PID 1 of its own PID namespace, the whole process inside a 32 MiB group
// from its start. A /bin/sh wrapper joins the group and execs unshare(1),
// which forks the test binary as PID 1 and kills it if unshare dies.
func runDockerIsolated(t *testing.T) {
	const name = "TestCgroupsDriven_Docker_Isolated"
	if raceBuild {
		t.Skip(name + " runs in the non-race pass of make test: under -race the race detector's shadow memory of its 16 MiB does not fit in the other 16 MiB of the 32 MiB group")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("%s runs as PID 1 of a PID namespace, with unshare(1): %v", name, err)
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "--kill-child", "true").CombinedOutput(); err != nil {
		t.Skipf("%s runs as PID 1 of a PID namespace, and unshare --pid --fork --kill-child fails here: %v %s", name, err, out)
	}
	g := newIsolatedGroup(t, "docker")
	cmd := g.Command(unshare, append([]string{"--pid", "--fork", "--kill-child", os.Args[0]}, isolatedArgs(name)...)...)
	cmd.Env = isolatedEnv(EnvTestDockerMemLimit + "=" + strconv.Itoa(v130CgroupLimit))
	runIsolated(t, name, cmd, groupState(g))
	checkGroup(t, g)
}
