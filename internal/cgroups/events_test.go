//go:build linux

package cgroups

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventTimeout bounds waits for events that must arrive; it is a failure
// bound, not a sleep.
const eventTimeout = 30 * time.Second

func TestV2MemoryEventsWatch(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	r, err := Open(cfg)
	require.NoError(t, err)
	defer r.Close()
	assert.Contains(t, r.EventsInfo(), "not started")
	assert.NoError(t, r.Arm(1<<20), "Arm is a no-op on v2")

	ch := r.Events()
	info := r.EventsInfo()
	assert.Contains(t, info, "memory.events inotify: on")
	assert.NotContains(t, info, "PSI")

	file := filepath.Join(r.Path(), "memory.events")
	require.NoError(t, os.WriteFile(file, []byte("low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"), 0o644))
	select {
	case <-ch:
	case <-time.After(eventTimeout):
		t.Fatalf("no event %v after memory.events counted a high event", eventTimeout)
	}
	require.NoError(t, r.Close())
	assert.Equal(t, "closed", r.EventsInfo())
}

func TestV2WatcherNothingToWatch(t *testing.T) {
	dir := t.TempDir()
	w, info := startWatcher(filepath.Join(dir, "memory.events"), make(chan struct{}, 1))
	assert.Nil(t, w)
	assert.Contains(t, info, "memory.events inotify: off")
}

func TestEventsAfterClose(t *testing.T) {
	r, err := Open(copyFixture(t, "v2-limited"))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.NotNil(t, r.Events(), "Events after Close returns the channel and starts nothing")
	assert.Nil(t, r.ev.watch)
}

func TestArmV1OffCgroupFS(t *testing.T) {
	r, err := Open(copyFixture(t, "v1-limited"))
	require.NoError(t, err)
	defer r.Close()
	err = r.Arm(1 << 20)
	assert.ErrorContains(t, err, "is not on a cgroup v1 file system")
	_, statErr := os.Stat(filepath.Join(r.Path(), "cgroup.event_control"))
	assert.True(t, os.IsNotExist(statErr), "Arm must not create cgroup.event_control in a fixture")
	assert.NoError(t, r.Arm(0))
	assert.Contains(t, r.EventsInfo(), "no threshold armed")
}
