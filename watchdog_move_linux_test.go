package watchdog

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real cgroup tests of a watchdog whose cgroup changes under it: the parent
// moves the child to another group and removes the first, or lowers the
// child's limit below what the policy accepts. Like the tests in
// watchdog_linux_test.go, only the re-executed child ever joins a group.

func init() {
	children["cgroup-move"] = childCgroupMove
	children["cgroup-lowered"] = childCgroupLowered
}

// moveStep is how far a watchdog child got: its watchdog's view at a step.
type moveStep struct {
	Limit     uint64
	SoftLimit int64
	Source    string
	Usage     uint64
}

func stepNow() moveStep {
	s := Snapshot()
	return moveStep{Limit: s.Limit, SoftLimit: s.SoftLimit, Source: s.Source, Usage: s.Usage}
}

// awaitParent prints line on stdout and waits for the parent to answer
// want on stdin.
func awaitParent(in *bufio.Scanner, line, want string) error {
	fmt.Println(line)
	if !in.Scan() {
		return fmt.Errorf("stdin closed before the parent said %q: %v", want, in.Err())
	}
	if in.Text() != want {
		return fmt.Errorf("the parent said %q; want %q", in.Text(), want)
	}
	return nil
}

// awaitLimit waits, up to a failure bound, for the watchdog to use limit.
func awaitLimit(limit uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for Snapshot().Limit != limit && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// childCgroupMove runs CgroupDriven, lets the parent move it to a group
// capped at 128 MiB and remove the first one, waits for the watchdog to
// follow, then holds 96 MiB of live heap and churns 512 MiB of garbage.
func childCgroupMove() (any, error) {
	limitRefresh = 100 * time.Millisecond
	err, stop := CgroupDriven(50*time.Millisecond, NewWatermarkPolicy(0.5, 0.7, 0.9))
	if err != nil {
		return nil, err
	}
	defer stop()
	res := map[string]moveStep{"started": stepNow()}
	if err := awaitParent(bufio.NewScanner(os.Stdin), "STARTED", "MOVED"); err != nil {
		return nil, err
	}
	awaitLimit(128 << 20)
	res["moved"] = stepNow()

	var live [][]byte
	for i := 0; i < 96; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		live = append(live, b)
	}
	var sink []byte
	for i := 0; i < 8192; i++ {
		sink = make([]byte, 64<<10)
		sink[0] = 1
	}
	res["allocated"] = stepNow()
	runtime.KeepAlive(live)
	runtime.KeepAlive(sink)
	return res, nil
}

func TestCgroupDrivenFollowsMove(t *testing.T) {
	requireCgroups(t)
	if raceEnabled {
		t.Skip("runs in the non-race pass of make test: it holds 96 MiB in a 128 MiB group, and race shadow memory counts against the cap")
	}
	first, cmd := cgroupChild(t, "watchdog-move-from", 512<<20, "cgroup-move")
	second := cgtest.ForTest(t, "watchdog-move-to", 128<<20)

	out := runWithParent(t, cmd, "STARTED", func(pid int) string {
		require.NoError(t, second.Add(pid))
		require.NoError(t, first.Remove()) // rmdir: the child's open files there now fail
		return "MOVED"
	})
	kills, err := second.OOMKills()
	require.NoError(t, err)
	assert.Zero(t, kills, "no OOM kill in the 128 MiB group")

	var res map[string]moveStep
	decodeChild(t, out, &res)
	assert.Equal(t, uint64(512<<20), res["started"].Limit)
	assert.Contains(t, res["started"].Source, filepath.Base(first.Dir))
	moved := res["moved"]
	assert.Equal(t, uint64(128<<20), moved.Limit, "the limit followed the move")
	assert.Greater(t, moved.SoftLimit, int64(0))
	assert.Less(t, moved.SoftLimit, int64(128<<20), "the soft limit followed the move")
	assert.Contains(t, moved.Source, filepath.Base(second.Dir), "Snapshot().Source names the new group")
	assert.Equal(t, uint64(128<<20), res["allocated"].Limit)
	t.Logf("steps: %+v", res)
}

// childCgroupLowered runs CgroupDriven with a policy that rejects limits
// under 100 MiB, lets the parent lower its group's limit from 512 MiB to
// 64 MiB, and reports what the watchdog uses after 20 more limit refreshes
// and how often it warned about the rejection.
func childCgroupLowered() (any, error) {
	limitRefresh = 100 * time.Millisecond
	logs := &recLogger{}
	SetLogger(logs)
	ctor := func(limit uint64) (Policy, error) {
		if limit < 100<<20 {
			return nil, fmt.Errorf("limit %d bytes rejected: under 100 MiB", limit)
		}
		return NewWatermarkPolicy(0.5, 0.9)(limit)
	}
	err, stop := CgroupDriven(20*time.Millisecond, ctor)
	if err != nil {
		return nil, err
	}
	started := stepNow()
	if err := awaitParent(bufio.NewScanner(os.Stdin), "STARTED", "LOWERED"); err != nil {
		stop()
		return nil, err
	}
	awaitLimit(64 << 20)
	// Let the loop refresh the limit 20 more times: the warning must not
	// come back at every refresh.
	deadline := time.Now().Add(20 * limitRefresh)
	for samples := Snapshot().Samples; time.Now().Before(deadline) || Snapshot().Samples < samples+20; {
		time.Sleep(10 * time.Millisecond)
	}
	lowered := stepNow()
	stop()
	return map[string]any{
		"Started":  started,
		"Lowered":  lowered,
		"Rejected": logs.find("WARN", "rejected: under 100 MiB"),
	}, nil
}

func TestCgroupDrivenLimitRejectedByPolicy(t *testing.T) {
	requireCgroups(t)
	if raceEnabled {
		t.Skip("runs in the non-race pass of make test: the group is lowered to 64 MiB, and race shadow memory counts against the cap")
	}
	g, cmd := cgroupChild(t, "watchdog-lowered", 512<<20, "cgroup-lowered")
	out := runWithParent(t, cmd, "STARTED", func(int) string {
		require.NoError(t, g.SetLimit(64<<20))
		return "LOWERED"
	})
	var res struct {
		Started, Lowered moveStep
		Rejected         []string
	}
	decodeChild(t, out, &res)
	assert.Equal(t, uint64(512<<20), res.Started.Limit)
	assert.Equal(t, uint64(64<<20), res.Lowered.Limit, "Snapshot().Limit is the lowered limit, though the policy rejected it")
	assert.Greater(t, res.Lowered.SoftLimit, int64(0))
	assert.Less(t, res.Lowered.SoftLimit, int64(64<<20), "the soft limit follows the lowered limit")
	assert.Len(t, res.Rejected, 1, "the rejection is logged once, not at every refresh: %q", res.Rejected)
}

// runWithParent starts cmd and, when the child prints the line ready,
// calls act with the child's PID and writes the line act returns to the
// child's stdin. It returns the child's stdout once the child has exited,
// which it must do with status 0. A child left behind by a failure is
// killed when the test ends.
func runWithParent(t *testing.T, cmd *exec.Cmd, ready string, act func(pid int) string) []byte {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start, err := startChild(cmd)
	require.NoError(t, err)
	wait := sync.OnceValue(start)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = wait()
	})
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if sc.Text() == ready {
			_, err := io.WriteString(stdin, act(cmd.Process.Pid)+"\n")
			require.NoError(t, err)
		}
	}
	require.NoError(t, wait(), "child:\n%s%s", out.String(), stderr.String())
	return []byte(out.String())
}
