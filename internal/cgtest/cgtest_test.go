package cgtest

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

func newGroup(t *testing.T, limit uint64) *Group {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skip(why)
	}
	g, err := New("cgtest-"+t.Name(), limit)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, g.Remove()) })
	return g
}

func TestCommandRunsInsideGroup(t *testing.T) {
	g := newGroup(t, 64*mib)
	out, err := g.Command("sh", "-c", "cat /proc/self/cgroup").Output()
	require.NoError(t, err)
	var memLine string
	for _, line := range strings.Split(string(out), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && strings.Contains(","+parts[1]+",", ",memory,") {
			memLine = line
		}
	}
	assert.True(t, strings.HasSuffix(memLine, "/"+filepath.Base(g.Dir)), "memory line %q of\n%s", memLine, out)
}

func TestOOMKill(t *testing.T) {
	g := newGroup(t, 16*mib)
	// tail keeps the whole newline-free input in memory.
	err := g.Command("sh", "-c", "head -c 64M /dev/zero | tail").Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the command should fail")
	kills, err := g.OOMKills()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, kills, uint64(1))
	peak, err := g.MaxUsage()
	require.NoError(t, err)
	assert.LessOrEqual(t, peak, uint64(16*mib))
	assert.Greater(t, peak, uint64(8*mib))
	usage, err := g.Usage()
	require.NoError(t, err)
	assert.LessOrEqual(t, usage, peak)
}

func TestRemoveKillsAndIsIdempotent(t *testing.T) {
	g := newGroup(t, 64*mib)
	cmd := g.Command("sh", "-c", "echo joined; exec sleep 1000")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n') // the child is in the group
	require.NoError(t, err)
	require.Equal(t, "joined\n", line)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	require.NoError(t, g.Remove())
	require.NoError(t, g.Remove())
	_, err = os.Stat(g.Dir)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "stat %s: %v", g.Dir, err)
	err = <-waited
	assert.ErrorContains(t, err, "signal: killed")
}

func TestCommandFailsOutsideGroup(t *testing.T) {
	g := &Group{Dir: filepath.Join(t.TempDir(), "missing")}
	err := g.Command("true").Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
}

func TestAddAndSetLimit(t *testing.T) {
	a, b := newGroup(t, 64*mib), newGroup(t, 32*mib)
	cmd := a.Command("sh", "-c", "echo joined; read x; cat /proc/self/cgroup")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "joined\n", line)

	require.NoError(t, b.Add(cmd.Process.Pid))
	require.NoError(t, stdin.Close()) // read returns; cat shows the new group
	rest, err := io.ReadAll(out)
	require.NoError(t, err)
	assert.Contains(t, string(rest), ":memory:", "%s", rest)
	assert.Contains(t, string(rest), "/"+filepath.Base(b.Dir)+"\n")
	assert.ErrorContains(t, b.Add(1<<30), "moving PID 1073741824 into "+b.Dir)

	for _, limit := range []uint64{96 * mib, 16 * mib} { // up, then down
		require.NoError(t, a.SetLimit(limit))
		for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
			if v, err := a.readBytes(f); err == nil || !errors.Is(err, fs.ErrNotExist) {
				require.NoError(t, err)
				assert.Equal(t, limit, v, f)
			}
		}
	}
}
