//go:build linux

package cgroups

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// fixtureConfig points Open at testdata/<name>.
func fixtureConfig(name string, pid int) Config {
	root := filepath.Join("testdata", name)
	return Config{ProcRoot: filepath.Join(root, "proc"), FSRoot: root, PID: pid}
}

func TestOpenFixtures(t *testing.T) {
	tests := []struct {
		name     string
		pid      int
		openErr  string // substring; "" means Open succeeds
		noMemory bool   // Open error wraps ErrNoMemoryCgroup
		version  int
		dir      string // relative to the fixture root
		limit    uint64
		noLimit  bool   // Limit error wraps ErrNoLimit
		limitErr string // substring of another Limit error
		usage    uint64
		usageErr string
		reclaim  uint64
	}{
		{name: "v1-limited", version: 1, dir: "sys/fs/cgroup/memory/app", limit: 512 * mib, usage: 123456789, reclaim: 4 * mib},
		{name: "v1-unlimited", version: 1, dir: "sys/fs/cgroup/memory/app", noLimit: true, usage: 4096},
		{name: "v1-parent-limit", version: 1, dir: "sys/fs/cgroup/memory/parent/child", limit: 256 * mib, usage: 1000},
		{name: "v1-hierarchical", version: 1, dir: "sys/fs/cgroup/memory", limit: 300 * mib, usage: 2000},
		{name: "v1-docker", version: 1, dir: "sys/fs/cgroup/memory", limit: 200 * mib, usage: 3000},
		{name: "v1-outside-root", version: 1, dir: "sys/fs/cgroup/memory", limit: 150 * mib, usage: 8000},
		// PID 1 whose own cgroup is visible (host cgroup namespace) uses it,
		// not the host's root.
		{name: "v1-pid1", pid: 1, version: 1, dir: "sys/fs/cgroup/memory/app", limit: 50 * mib, usage: 4000},
		{name: "hybrid", version: 1, dir: "sys/fs/cgroup/memory/app", limit: 700 * mib, usage: 6000},
		{name: "hybrid-v2", version: 2, dir: "sys/fs/cgroup/unified/app", limit: 64 * mib, usage: 7000},
		{name: "v2-limited", version: 2, dir: "sys/fs/cgroup/app.slice/app.service", limit: 1024 * mib, usage: 987654321, reclaim: 8 * mib},
		{name: "v2-unlimited", version: 2, dir: "sys/fs/cgroup/app.slice/app.service", noLimit: true, usage: 4096},
		{name: "v2-parent-limit", version: 2, dir: "sys/fs/cgroup/app.slice/app.service", limit: 512 * mib, usage: 4096},
		{name: "v2-cgroupns", version: 2, dir: "sys/fs/cgroup", limit: 256 * mib, usage: 9000, reclaim: 4096},
		{name: "missing-usage", openErr: "memory.usage_in_bytes: no such file"},
		{name: "garbage-limit", version: 2, dir: "sys/fs/cgroup/app",
			limitErr: `garbage-limit/sys/fs/cgroup/app/memory.max: value "lots" is not "max" or a byte count`, usage: 4096},
		{name: "garbage-usage", version: 1, dir: "sys/fs/cgroup/memory/app", limit: 512 * mib,
			usageErr: `garbage-usage/sys/fs/cgroup/memory/app/memory.usage_in_bytes: value "12abc" is not a byte count`},
		{name: "no-memory", noMemory: true, openErr: "cgroup.controllers does not list memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(fixtureConfig(tt.name, tt.pid))
			if tt.openErr != "" || tt.noMemory {
				require.Error(t, err)
				assert.ErrorContains(t, err, tt.openErr)
				if tt.noMemory {
					assert.ErrorIs(t, err, ErrNoMemoryCgroup)
				}
				return
			}
			require.NoError(t, err)
			defer r.Close()
			assert.Equal(t, tt.version, r.Version())
			assert.Equal(t, filepath.Join("testdata", tt.name, tt.dir), r.Path())
			assert.Contains(t, r.String(), r.Path())

			limit, err := r.Limit()
			switch {
			case tt.noLimit:
				assert.ErrorIs(t, err, ErrNoLimit)
				assert.ErrorContains(t, err, r.Path())
			case tt.limitErr != "":
				assert.ErrorContains(t, err, tt.limitErr)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.limit, limit)
			}

			// Limit ran the discovery again: in every case (PID 1, cgroup
			// namespaces, hybrid hosts) it finds the same directory.
			assert.Equal(t, 1, r.discoveries)
			assert.Equal(t, filepath.Join("testdata", tt.name, tt.dir), r.Path(), "after Limit")

			usage, err := r.Usage()
			if tt.usageErr != "" {
				assert.ErrorContains(t, err, tt.usageErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.usage, usage)
			}

			reclaim, err := r.Reclaimable()
			require.NoError(t, err)
			assert.Equal(t, tt.reclaim, reclaim)
		})
	}
}

// copyFixture copies testdata/<name> into a temporary directory so a test
// can rewrite files, and returns the Config for the copy.
// copyTree copies the directory tree src into dst (os.CopyFS needs Go 1.23;
// the module supports 1.22).
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func copyFixture(t *testing.T, name string) Config {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, copyTree(dst, filepath.Join("testdata", name)))
	return Config{ProcRoot: filepath.Join(dst, "proc"), FSRoot: dst}
}

func TestLimitIsReread(t *testing.T) {
	for _, tt := range []struct{ name, file string }{
		{"v1-limited", "sys/fs/cgroup/memory/app/memory.limit_in_bytes"},
		{"v2-limited", "sys/fs/cgroup/app.slice/app.service/memory.max"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := copyFixture(t, tt.name)
			r, err := Open(cfg)
			require.NoError(t, err)
			defer r.Close()
			limit, err := r.Limit()
			require.NoError(t, err)
			assert.Greater(t, limit, uint64(100*mib))

			require.NoError(t, os.WriteFile(filepath.Join(cfg.FSRoot, tt.file), []byte("104857600\n"), 0o644))
			limit, err = r.Limit()
			require.NoError(t, err)
			assert.Equal(t, uint64(100*mib), limit)
		})
	}
}

func TestUsageIsReread(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	r, err := Open(cfg)
	require.NoError(t, err)
	defer r.Close()
	file := filepath.Join(r.Path(), "memory.current")
	for _, want := range []uint64{1, 18446744073709551615, 42} {
		require.NoError(t, os.WriteFile(file, []byte(uintString(want)+"\n"), 0o644))
		got, err := r.Usage()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	require.NoError(t, os.WriteFile(file, []byte("18446744073709551616\n"), 0o644))
	_, err = r.Usage()
	assert.ErrorContains(t, err, `value "18446744073709551616" is not a byte count`)
}

func uintString(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		if v /= 10; v == 0 {
			return string(b[i:])
		}
	}
}

func TestReclaimableErrors(t *testing.T) {
	cfg := copyFixture(t, "v2-limited")
	r, err := Open(cfg)
	require.NoError(t, err)
	defer r.Close()
	stat := filepath.Join(r.Path(), "memory.stat")

	require.NoError(t, os.WriteFile(stat, []byte("anon 1\nfile 2\ninactive_file 3\n"), 0o644))
	_, err = r.Reclaimable()
	assert.ErrorContains(t, err, stat+` has no "active_file" line`)

	require.NoError(t, os.WriteFile(stat, []byte("anon 1\nactive_file 2\n"), 0o644))
	_, err = r.Reclaimable()
	assert.ErrorContains(t, err, stat+` has no "inactive_file" line`)

	require.NoError(t, os.WriteFile(stat, []byte("anon 1\nactive_file 0\ninactive_file -3\n"), 0o644))
	_, err = r.Reclaimable()
	assert.ErrorContains(t, err, `value "-3" is not a byte count (unsigned integer) for inactive_file`)

	require.NoError(t, os.WriteFile(stat, []byte("file_dirty 1x\nactive_file 0\ninactive_file 3\n"), 0o644))
	v, err := r.Reclaimable()
	assert.NoError(t, err, "the dirty counter is not read")
	assert.Equal(t, uint64(3), v)

	// A memory.stat larger than the initial buffer is read in full.
	big := make([]byte, 0, 64<<10)
	big = append(big, "active_file 1000\n"...)
	for len(big) < 60<<10 {
		big = append(big, "padding_counter 12345678\n"...)
	}
	big = append(big, "inactive_file 777\nfile_writeback 7\n"...)
	require.NoError(t, os.WriteFile(stat, big, 0o644))
	v, err = r.Reclaimable()
	require.NoError(t, err)
	assert.Equal(t, uint64(1777), v)
}

func TestOpenDir(t *testing.T) {
	r, err := OpenDir(2, "testdata/v2-limited/sys/fs/cgroup/app.slice/app.service")
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, "testdata/v2-limited/sys/fs/cgroup", r.cur.loc.top)
	limit, err := r.Limit()
	require.NoError(t, err)
	assert.Equal(t, uint64(1024*mib), limit)

	_, err = OpenDir(3, "testdata/v2-limited/sys/fs/cgroup")
	assert.ErrorContains(t, err, "version 3 is not 1 or 2")
}

func TestCloseIsIdempotent(t *testing.T) {
	r, err := Open(fixtureConfig("v1-limited", 0))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Usage()
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.ErrorIs(t, r.Arm(1), os.ErrClosed)
}
