//go:build linux

package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Re-discovery tests on fixtures: rewriting <ProcRoot>/self/cgroup between
// calls is what the kernel shows after systemd or a container runtime moves
// the process; removing the old directory and breaking the Reader's open
// files is what rmdir does to a cgroup.

// group is a fixture cgroup directory.
type group struct {
	version int
	cgPath  string // as /proc/self/cgroup names it
	dir     string // on disk, under FSRoot
}

// addGroup creates the fixture cgroup cgPath, beside the ones of the
// v1-limited or v2-limited fixture cfg was copied from, with a limit and
// usage in bytes.
func addGroup(t *testing.T, cfg Config, version int, cgPath string, limit, usage uint64) group {
	t.Helper()
	mnt := "sys/fs/cgroup"
	if version == 1 {
		mnt = "sys/fs/cgroup/memory"
	}
	g := group{version: version, cgPath: cgPath, dir: filepath.Join(cfg.FSRoot, mnt, cgPath)}
	files := map[string]string{
		"memory.stat":           fmt.Sprintf("hierarchical_memory_limit %d\ntotal_active_file 0\ntotal_inactive_file %d\n", limit, usage/2),
		"memory.usage_in_bytes": fmt.Sprint(usage),
		"memory.limit_in_bytes": fmt.Sprint(limit),
	}
	if version == 2 {
		files = map[string]string{
			"memory.stat":    fmt.Sprintf("active_file 0\ninactive_file %d\n", usage/2),
			"memory.current": fmt.Sprint(usage),
			"memory.max":     fmt.Sprint(limit),
			"memory.events":  "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
			"cgroup.procs":   "",
		}
	}
	for name, content := range files {
		write(t, filepath.Join(g.dir, name), content)
	}
	return g
}

// moveProc rewrites the fixture's /proc/self/cgroup so that the process is
// in g.
func moveProc(t *testing.T, cfg Config, g group) {
	t.Helper()
	require.NoError(t, writeProcCgroup(cfg, g))
}

// writeProcCgroup is moveProc for any goroutine. It replaces the file
// atomically, so a concurrent discovery reads the old or the new one.
func writeProcCgroup(cfg Config, g group) error {
	line := fmt.Sprintf("4:memory:%s\n0::/\n", g.cgPath)
	if g.version == 2 {
		line = "0::" + g.cgPath + "\n"
	}
	file := filepath.Join(cfg.ProcRoot, "self/cgroup")
	if err := os.WriteFile(file+".tmp", []byte(line), 0o644); err != nil {
		return err
	}
	return os.Rename(file+".tmp", file)
}

// breakFile makes every later read of p fail with a kernel error, as reads
// of a removed cgroup's files fail with ENODEV: its fd now refers to a
// directory, so pread returns EISDIR.
func breakFile(t *testing.T, p *preader) {
	t.Helper()
	d, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(d)
	require.NoError(t, p.rc.Control(func(fd uintptr) { err = unix.Dup3(d, int(fd), unix.O_CLOEXEC) }))
	require.NoError(t, err)
}

func TestLimitFollowsMove(t *testing.T) {
	for _, fixture := range []struct {
		name    string
		version int
	}{{"v1-limited", 1}, {"v2-limited", 2}} {
		t.Run(fixture.name, func(t *testing.T) {
			cfg := copyFixture(t, fixture.name)
			r, err := Open(cfg)
			require.NoError(t, err)
			defer r.Close()
			ch := r.Events()
			old := r.Path()

			g := addGroup(t, cfg, fixture.version, "/other.slice/app", 256*mib, 5000)
			limit, err := r.Limit()
			require.NoError(t, err)
			assert.NotEqual(t, uint64(256*mib), limit, "not moved yet")
			assert.Equal(t, old, r.Path())

			moveProc(t, cfg, g)
			limit, err = r.Limit()
			require.NoError(t, err)
			assert.Equal(t, uint64(256*mib), limit, "the new directory's limit")
			assert.Equal(t, g.dir, r.Path())
			assert.Equal(t, fmt.Sprintf("cgroup v%d %s", fixture.version, g.dir), r.String())
			usage, err := r.Usage()
			require.NoError(t, err)
			assert.Equal(t, uint64(5000), usage)
			reclaim, err := r.Reclaimable()
			require.NoError(t, err)
			assert.Equal(t, uint64(2500), reclaim)
			assert.Equal(t, ch, r.Events(), "the Events channel stays")
			if fixture.version == 2 {
				require.NotNil(t, r.ev.watch, r.EventsInfo())
				assert.Equal(t, filepath.Join(g.dir, "memory.events"), r.ev.watch.events.name())
				write(t, filepath.Join(g.dir, "memory.events"), "low 0\nhigh 1\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")
				select {
				case <-ch:
				case <-time.After(eventTimeout):
					t.Fatalf("no event %v after the new group's memory.events counted a high event", eventTimeout)
				}
			}
		})
	}
}

func TestReadFailureFollowsRemoval(t *testing.T) {
	for _, read := range []struct {
		name string
		f    func(*Reader) (uint64, error)
		file func(*Reader) *preader
		want uint64
	}{
		{"Usage", (*Reader).Usage, func(r *Reader) *preader { return r.cur.usage }, 7000},
		{"Reclaimable", (*Reader).Reclaimable, func(r *Reader) *preader { return r.cur.stat }, 3500},
	} {
		t.Run(read.name, func(t *testing.T) {
			cfg := copyFixture(t, "v1-limited")
			r, err := Open(cfg)
			require.NoError(t, err)
			defer r.Close()
			old := r.Path()

			g := addGroup(t, cfg, 1, "/moved", 128*mib, 7000)
			moveProc(t, cfg, g)
			require.NoError(t, os.RemoveAll(old))
			breakFile(t, read.file(r))
			v, err := read.f(r)
			require.NoError(t, err)
			assert.Equal(t, read.want, v)
			assert.Equal(t, g.dir, r.Path())
			assert.Equal(t, 1, r.discoveries)
		})
	}
}

func TestReadFailureRediscoveryIsRateLimited(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	r, err := Open(cfg)
	require.NoError(t, err)
	defer r.Close()
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }

	breakFile(t, r.cur.usage)
	_, err = r.Usage()
	assert.ErrorIs(t, err, unix.EISDIR)
	assert.Equal(t, 1, r.discoveries, "the first failure re-discovers at once")
	_, err = r.Usage()
	assert.Error(t, err)
	assert.Equal(t, 1, r.discoveries, "nothing changed: the error stands")

	moveProc(t, cfg, addGroup(t, cfg, 2, "/later", 128*mib, 42))
	now = now.Add(retryEvery - time.Nanosecond)
	_, err = r.Usage()
	assert.Error(t, err)
	assert.Equal(t, 1, r.discoveries, "within %v of the last attempt", retryEvery)

	now = now.Add(time.Nanosecond)
	v, err := r.Usage()
	require.NoError(t, err)
	assert.Equal(t, uint64(42), v)
	assert.Equal(t, 2, r.discoveries)

	// A malformed value is not a failed read: no re-discovery.
	write(t, filepath.Join(r.Path(), "memory.current"), "lots\n")
	now = now.Add(time.Hour)
	_, err = r.Usage()
	assert.ErrorContains(t, err, `value "lots" is not a byte count`)
	assert.Equal(t, 2, r.discoveries)
}

func TestOpenDirDoesNotFollow(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	dir := filepath.Join(cfg.FSRoot, "sys/fs/cgroup/app.slice/app.service")
	r, err := OpenDir(2, dir)
	require.NoError(t, err)
	defer r.Close()
	moveProc(t, cfg, addGroup(t, cfg, 2, "/elsewhere", 128*mib, 42))
	_, err = r.Limit()
	require.NoError(t, err)
	breakFile(t, r.cur.usage)
	_, err = r.Usage()
	assert.Error(t, err)
	assert.Equal(t, dir, r.Path())
	assert.Zero(t, r.discoveries)
}

func TestLimitWhenRediscoveryFails(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	r, err := Open(cfg)
	require.NoError(t, err)
	defer r.Close()
	write(t, filepath.Join(cfg.ProcRoot, "self/cgroup"), "garbage\n")
	limit, err := r.Limit()
	require.NoError(t, err, "the directory in use still works")
	assert.Equal(t, uint64(1024*mib), limit)

	write(t, filepath.Join(r.Path(), "memory.max"), "lots\n")
	_, err = r.Limit()
	assert.ErrorContains(t, err, `memory.max: value "lots" is not "max" or a byte count`)
	assert.ErrorContains(t, err, "re-discovering the cgroup failed")
	assert.ErrorContains(t, err, "self/cgroup")

	// The process moved to a directory whose files cannot be opened: the
	// Reader stays where it is.
	g := addGroup(t, cfg, 2, "/broken", 128*mib, 42)
	require.NoError(t, os.Remove(filepath.Join(g.dir, "memory.current")))
	moveProc(t, cfg, g)
	_, err = r.Limit()
	assert.ErrorContains(t, err, "memory.current: no such file")
	assert.NotEqual(t, g.dir, r.Path())
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

func TestMoveAfterCloseLeaksNothing(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	g := addGroup(t, cfg, 2, "/next", 128*mib, 42)
	before := openFDs(t)
	r, err := Open(cfg)
	require.NoError(t, err)
	r.Events()
	require.NoError(t, r.Close())
	err = r.moveTo(location{version: 2, dir: g.dir, top: filepath.Dir(g.dir)})
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Equal(t, before, openFDs(t))
}

// TestCloseWhileMoving moves the process back and forth while the Reader's
// goroutine follows it and another goroutine closes the Reader. Run with
// -race; TestMain checks for leaked goroutines.
func TestCloseWhileMoving(t *testing.T) {
	for i := 0; i < 20; i++ {
		cfg := copyFixture(t, "v2-limited")
		groups := []group{addGroup(t, cfg, 2, "/a", 128*mib, 1), addGroup(t, cfg, 2, "/b", 256*mib, 2)}
		before := openFDs(t)
		r, err := Open(cfg)
		require.NoError(t, err)
		r.Events() // starts the watcher, which each move restarts

		var wg sync.WaitGroup
		wg.Add(1)
		moving := make(chan struct{}) // closed after i moves: Close lands at varied points
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				if j == i {
					close(moving)
				}
				if !assert.NoError(t, writeProcCgroup(cfg, groups[j%2])) {
					return
				}
				if _, err := r.Limit(); err != nil {
					assert.ErrorIs(t, err, os.ErrClosed)
					return
				}
				if _, err := r.Usage(); err != nil {
					assert.ErrorIs(t, err, os.ErrClosed)
					return
				}
			}
		}()
		<-moving
		require.NoError(t, r.Close())
		wg.Wait()
		assert.Equal(t, before, openFDs(t), "round %d", i)
	}
}
