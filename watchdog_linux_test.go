package watchdog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real cgroup tests: a re-executed test binary runs CgroupDriven inside a
// fresh memory cgroup this test creates under its own, with a real limit.
// The go test process itself never moves.

func init() {
	children["cgroup-workload"] = childCgroupWorkload
	children["cgroup-unlimited"] = childCgroupUnlimited
}

type cgroupResult struct {
	Limit        uint64 // the limit the policy was built for
	Forced       int    // ForcedGCFunc calls
	Threshold    uint64
	PeakUsage    uint64
	LiveMiB      int
	SnapshotLast Stats
}

// childCgroupWorkload starts CgroupDriven with a threshold at half the
// limit, holds live heap until the group's usage reaches 60%, past the
// threshold, then churns garbage. It must survive, with GCs forced.
func childCgroupWorkload() (any, error) {
	var res cgroupResult
	forced := 0
	ForcedGCFunc = func() { forced++; runtime.GC() }
	// A fixed threshold at half the limit: with watermarks, a runtime GC
	// that lands before the next sample may move the threshold past the
	// live data and no GC is ever forced, a legitimate outcome that would
	// make the assertion depend on timing.
	ctor := func(limit uint64) (Policy, error) {
		res.Limit = limit
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return limit / 2 }), nil
	}
	err, stop := CgroupDriven(20*time.Millisecond, ctor)
	if err != nil {
		return nil, err
	}
	// Hold live heap until the group's usage, read directly (the parent
	// names the file), reaches 60% of the limit: exact even when the race
	// detector's shadow memory grows with the heap.
	usage := func() uint64 {
		if f := os.Getenv("WATCHDOG_TEST_USAGE_FILE"); f != "" {
			if b, err := os.ReadFile(f); err == nil {
				if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
					return v
				}
			}
		}
		return Snapshot().Usage
	}
	var live [][]byte
	for i := 0; i < 4096 && usage() < res.Limit*6/10; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		live = append(live, b)
	}
	var sink []byte
	for i := 0; i < 8192; i++ { // 512 MiB of short-lived garbage
		sink = make([]byte, 64<<10)
	}
	// Give the watchdog samples at this level (bounded; a failure bound).
	deadline := time.Now().Add(5 * time.Second)
	for Snapshot().ForcedGCs == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	res.SnapshotLast = Snapshot() // the final state: no GC can be forced after stop
	res.Forced, res.LiveMiB, res.Threshold = forced, len(live), res.SnapshotLast.Threshold
	runtime.KeepAlive(live)
	runtime.KeepAlive(sink)
	return res, nil
}

func childCgroupUnlimited() (any, error) {
	err, stop := CgroupDriven(time.Second, NewWatermarkPolicy(0.5))
	if err == nil {
		stop()
		return nil, fmt.Errorf("CgroupDriven started in an unlimited cgroup")
	}
	return map[string]any{"Error": err.Error(), "IsNoLimit": errors.Is(err, ErrNoCgroupLimit)}, nil
}

// cgroupChild creates a v1 memory group named name with limit bytes (0: no
// limit), removed when the test ends, and returns a command that runs
// scenario in a re-executed test binary inside it.
func cgroupChild(t *testing.T, name string, limit uint64, scenario string) (*cgtest.Group, *exec.Cmd) {
	t.Helper()
	g := cgtest.ForTest(t, name, limit)
	cmd := g.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnviron(scenario)
	return g, cmd
}

func requireCgroups(t *testing.T) {
	t.Helper()
	if ok, why := cgtest.Available(); !ok {
		t.Skip("real cgroup test skipped: " + why)
	}
}

func TestCgroupDrivenRealLimit(t *testing.T) {
	requireCgroups(t)
	if raceEnabled {
		// The race detector's shadow memory is charged to the cgroup and
		// grows several-fold with the heap: no cap is both small and safe.
		// make test runs this test again without -race.
		t.Skip("real cgroup survival test runs in the non-race pass of make test (race shadow memory counts against the cap)")
	}
	limit := uint64(64 << 20)
	g, cmd := cgroupChild(t, "watchdog-limited", limit, "cgroup-workload")
	cmd.Env = append(cmd.Env, "WATCHDOG_TEST_USAGE_FILE="+filepath.Join(g.Dir, "memory.usage_in_bytes"))
	out, err := childOutput(cmd)
	kills, kerr := g.OOMKills()
	require.NoError(t, kerr)
	require.NoError(t, err, "the child must survive (oom kills: %d):\n%s", kills, out)
	assert.Zero(t, kills, "no OOM kill in the group")

	var res cgroupResult
	decodeChild(t, out, &res)
	assert.Equal(t, limit, res.Limit, "CgroupDriven discovered the group's limit")
	assert.GreaterOrEqual(t, res.Forced, 1, "usage passed the threshold at 50%%, so GC was forced")
	assert.Equal(t, uint64(res.Forced), res.SnapshotLast.ForcedGCs)
	assert.Equal(t, "cgroup", res.SnapshotLast.Driver)
	assert.Contains(t, res.SnapshotLast.Source, "cgroup v1")
	assert.Greater(t, res.SnapshotLast.SoftLimit, int64(0), "the soft limit was managed")
	t.Logf("limit %d bytes, %d MiB live, %d forced GCs, last threshold %d bytes", res.Limit, res.LiveMiB, res.Forced, res.Threshold)
}

func TestCgroupDrivenRealNoLimit(t *testing.T) {
	_, cmd := cgroupChild(t, "watchdog-unlimited", 0, "cgroup-unlimited")
	out, err := childOutput(cmd)
	require.NoError(t, err, "%s", out)
	var res struct {
		Error     string
		IsNoLimit bool
	}
	decodeChild(t, out, &res)
	assert.True(t, res.IsNoLimit, "the error wraps ErrNoCgroupLimit: %s", res.Error)
	assert.Contains(t, res.Error, "limit")
}

// TestCgroupDrivenAsContainerInit is the Docker path (make docker-test): the
// test binary is PID 1 of a memory-capped container, whose cgroup is the
// root it can see. It runs only there.
func TestCgroupDrivenAsContainerInit(t *testing.T) {
	if os.Getpid() != 1 {
		t.Skip("runs only as PID 1 of a memory-capped container (make docker-test)")
	}
	r, err := childCgroupWorkload()
	require.NoError(t, err)
	res := r.(cgroupResult)
	assert.Greater(t, res.Limit, uint64(0))
	assert.GreaterOrEqual(t, res.Forced, 1, "usage passed the threshold at 50%%, so GC was forced")
	t.Logf("container limit %d bytes, %d forced GCs", res.Limit, res.Forced)
}

func init() {
	children["cgroup-resize"] = childCgroupResize
}

// childCgroupResize starts CgroupDriven, says so on stdout, and waits for the
// parent to change the group's limit: the watchdog must pick the new one up.
func childCgroupResize() (any, error) {
	limitRefresh = 50 * time.Millisecond
	var limits []uint64
	ctor := func(limit uint64) (Policy, error) {
		limits = append(limits, limit)
		return NewWatermarkPolicy(0.5, 0.9)(limit)
	}
	err, stop := CgroupDriven(10*time.Millisecond, ctor)
	if err != nil {
		return nil, err
	}
	defer stop()
	first := Snapshot().Limit
	fmt.Println("STARTED")
	deadline := time.Now().Add(10 * time.Second) // a failure bound
	for Snapshot().Limit == first && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s := Snapshot()
	return map[string]any{"First": first, "Now": s.Limit, "Threshold": s.Threshold, "CtorLimits": len(limits)}, nil
}

func TestCgroupDrivenRealLimitChange(t *testing.T) {
	g, cmd := cgroupChild(t, "watchdog-resize", 64<<20, "cgroup-resize")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	wait, err := startChild(cmd)
	require.NoError(t, err)
	sc := bufio.NewScanner(stdout)
	var out strings.Builder
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if sc.Text() == "STARTED" {
			// systemctl set-property, an in-place pod resize: the limit grows
			// (memory+swap first: it may not be below the memory limit).
			for _, f := range []string{"memory.memsw.limit_in_bytes", "memory.limit_in_bytes"} {
				p := filepath.Join(g.Dir, f)
				if _, err := os.Stat(p); err == nil {
					require.NoError(t, os.WriteFile(p, []byte("100663296"), 0o644))
				}
			}
		}
	}
	require.NoError(t, wait(), "child:\n%s%s", out.String(), stderr.String())
	var res struct {
		First, Now, Threshold uint64
		CtorLimits            int
	}
	decodeChild(t, []byte(out.String()), &res)
	assert.Equal(t, uint64(64<<20), res.First)
	assert.Equal(t, uint64(96<<20), res.Now, "the new limit was picked up")
	assert.Equal(t, uint64(48<<20), res.Threshold, "the policy was rebuilt for it")
	assert.Equal(t, 2, res.CtorLimits)
	assert.Contains(t, stderr.String(), "changed from 64.0 MiB (67108864 bytes) to 96.0 MiB (100663296 bytes)")
	assert.Contains(t, stderr.String(), "policy rebuilt for the limit 96.0 MiB (100663296 bytes)")
}

// TestStartPrefersCgroupInALimitedGroup: with no heap limit, Start picks the
// cgroup driver when the group has a limit.
func TestStartPrefersCgroupInALimitedGroup(t *testing.T) {
	_, cmd := cgroupChild(t, "watchdog-start", 128<<20, "start-precedence")
	out, err := childOutput(cmd)
	require.NoError(t, err, "%s", out)
	var res startOutcome
	decodeChild(t, out, &res)
	assert.Equal(t, "cgroup", res.Driver)
	assert.Equal(t, uint64(128<<20), res.Limit)
	assert.Equal(t, []string{"heap: no heap limit configured"}, res.Skipped)
}
