//go:build linux

package cgroups_test

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/raulk/go-watchdog/internal/cgroups"
	"github.com/raulk/go-watchdog/internal/cgtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

func openHost(tb testing.TB) *cgroups.Reader {
	tb.Helper()
	r, err := cgroups.Open(cgroups.Config{})
	if errors.Is(err, cgroups.ErrNoMemoryCgroup) {
		tb.Skipf("this host has no memory cgroup: %v", err)
	}
	require.NoError(tb, err)
	tb.Cleanup(func() { r.Close() })
	return r
}

func TestHostOpen(t *testing.T) {
	r := openHost(t)
	usage, err := r.Usage()
	require.NoError(t, err)
	assert.Greater(t, usage, uint64(0))
	limit, limitErr := r.Limit()
	if limitErr != nil {
		assert.ErrorIs(t, limitErr, cgroups.ErrNoLimit)
	}
	reclaim, err := r.Reclaimable()
	require.NoError(t, err)
	t.Logf("%s: usage %d, limit %d (%v), reclaimable %d", r, usage, limit, limitErr, reclaim)
}

// TestHostV1ThresholdEvent arms a threshold on a fresh child cgroup and
// starts a process there that allocates past it.
func TestHostV1ThresholdEvent(t *testing.T) {
	g := cgtest.ForTest(t, "cgroups-event", 256*mib)

	r, err := cgroups.OpenDir(1, g.Dir)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	limit, err := r.Limit()
	require.NoError(t, err)
	assert.Equal(t, uint64(256*mib), limit)

	ch := r.Events()
	require.NoError(t, r.Arm(8*mib))
	fds := openFDs(t)
	require.NoError(t, r.Arm(16*mib)) // replaces the first threshold
	assert.Equal(t, fds, openFDs(t), "re-arming must close the earlier eventfd")
	assert.Contains(t, r.EventsInfo(), "threshold 16777216 bytes")

	// tail holds its newline-free input (64 MiB) in memory.
	cmd := g.Command("sh", "-c", "head -c 64M /dev/zero | tail")
	require.NoError(t, cmd.Start())
	wait := sync.OnceValue(cmd.Wait)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = wait()
	})
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no threshold event within 30s while the child allocates 64 MiB")
	}
	peak, err := g.MaxUsage()
	require.NoError(t, err)
	assert.Greater(t, peak, uint64(16*mib))

	var exit *exec.ExitError
	if err := wait(); err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	require.NoError(t, r.Close())
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}
