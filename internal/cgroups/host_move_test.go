//go:build linux

package cgroups_test

import (
	"bufio"
	"io"
	"os"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgroups"
	"github.com/raulk/go-watchdog/internal/cgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holder is a re-executed test binary running holdChild in a cgtest group.
type holder struct {
	pid   int
	stdin io.Writer
	lines *bufio.Scanner
}

// startHolder starts holdChild inside g and waits until it runs there. The
// child is killed when the test ends.
func startHolder(t *testing.T, g *cgtest.Group) *holder {
	t.Helper()
	cmd := g.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cgroups.HoldChildEnv)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	h := &holder{pid: cmd.Process.Pid, stdin: stdin, lines: bufio.NewScanner(stdout)}
	h.expect(t, "ready")
	return h
}

func (h *holder) expect(t *testing.T, want string) {
	t.Helper()
	require.True(t, h.lines.Scan(), "child exited before printing %q: %v", want, h.lines.Err())
	require.Equal(t, want, h.lines.Text())
}

// TestHostReaderFollowsMovedProcess moves a child process between cgroups
// it created, as systemd or a container runtime would, and checks that a
// Reader opened for the child's PID follows: on Limit, with the armed
// threshold re-registered on the new group, and on a failed read once the
// old group is removed. The test process never moves.
func TestHostReaderFollowsMovedProcess(t *testing.T) {
	a := cgtest.ForTest(t, "cgroups-move-a", 256*mib)
	b, c := cgtest.ForTest(t, "cgroups-move-b", 192*mib), cgtest.ForTest(t, "cgroups-move-c", 160*mib)
	child := startHolder(t, a)
	fds := openFDs(t)

	r, err := cgroups.Open(cgroups.Config{PID: child.pid})
	require.NoError(t, err)
	require.Equal(t, a.Dir, r.Path())
	limit, err := r.Limit()
	require.NoError(t, err)
	assert.Equal(t, uint64(256*mib), limit)
	ch := r.Events()
	require.NoError(t, r.Arm(24*mib))

	// Moved: Limit follows, with the threshold.
	require.NoError(t, b.Add(child.pid))
	limit, err = r.Limit()
	require.NoError(t, err)
	assert.Equal(t, uint64(192*mib), limit)
	assert.Equal(t, b.Dir, r.Path())
	assert.Equal(t, "cgroup v1 "+b.Dir, r.String())
	assert.Contains(t, r.EventsInfo(), "threshold 25165824 bytes on "+b.Dir)
	require.NoError(t, a.Remove())
	for len(ch) > 0 { // anything the move itself signalled
		<-ch
	}
	_, err = io.WriteString(child.stdin, "alloc 48\n") // charged to b, past 24 MiB
	require.NoError(t, err)
	child.expect(t, "done")
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no threshold event within 30s after the child allocated 48 MiB in the group it was moved to")
	}
	usage, err := r.Usage()
	require.NoError(t, err)
	assert.Greater(t, usage, uint64(48*mib))

	// Moved again and the old group removed: the next read fails there,
	// re-discovers and reads the new group.
	require.NoError(t, c.Add(child.pid))
	require.NoError(t, b.Remove())
	usage, err = r.Usage()
	require.NoError(t, err, "Usage after the group in use was removed")
	assert.Equal(t, c.Dir, r.Path())
	assert.Less(t, usage, uint64(48*mib), "charges stay behind on a move")
	_, err = r.Reclaimable()
	require.NoError(t, err)
	limit, err = r.Limit()
	require.NoError(t, err)
	assert.Equal(t, uint64(160*mib), limit)
	assert.Contains(t, r.EventsInfo(), "threshold 25165824 bytes on "+c.Dir)

	require.NoError(t, r.Close())
	assert.Equal(t, fds, openFDs(t), "no file descriptor left open")
}
