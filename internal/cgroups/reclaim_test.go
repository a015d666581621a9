//go:build linux

package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReclaimableModel reads memory.stat fixtures through a Reader: the
// clean file cache is active + inactive file - (dirty + writeback), from the
// hierarchical totals on v1, clamped at 0, with missing dirty and writeback
// counters taken as 0.
func TestReclaimableModel(t *testing.T) {
	for _, tt := range []struct {
		fixture, stat string // stat: a file in testdata/stat, or "" for the fixture's own
		want          uint64
	}{
		// total_*: 3 MiB active + 1 MiB inactive - (256 KiB dirty + 64 KiB
		// writeback); the group's own (non-total) counters are ignored.
		{"v1-limited", "", 3<<20 + 1<<20 - 256<<10 - 64<<10},
		{"v1-limited", "v1-dirty-over.stat", 0},       // 96 KiB + 16 KiB dirty/writeback > 64 + 32 KiB cache
		{"v1-limited", "v1-old-kernel.stat", 3358720}, // no total_dirty, total_writeback
		// 6 MiB active + 2 MiB inactive - 128 KiB dirty; the 1 MiB of
		// shmem (in "file") is on the anon LRU lists and not counted.
		{"v2-limited", "", 6<<20 + 2<<20 - 128<<10},
		{"v2-limited", "v2-dirty-over.stat", 0},       // 12 + 4 KiB > 4 + 8 KiB
		{"v2-limited", "v2-old-kernel.stat", 3358720}, // no file_dirty, file_writeback
	} {
		t.Run(tt.fixture+"/"+tt.stat, func(t *testing.T) {
			cfg := copyFixture(t, tt.fixture)
			r, err := Open(cfg)
			require.NoError(t, err)
			defer r.Close()
			if tt.stat != "" {
				b, err := os.ReadFile(filepath.Join("testdata/stat", tt.stat))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(r.Path(), "memory.stat"), b, 0o644))
			}
			got, err := r.Reclaimable()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCleanFileCacheEdges(t *testing.T) {
	for _, tt := range []struct {
		stat string
		want uint64
	}{
		{"active_file 10\ninactive_file 5\nfile_dirty 15\n", 0}, // equal: nothing clean
		{"active_file 10\ninactive_file 5\nfile_dirty 14\n", 1},
		{"active_file 18446744073709551615\ninactive_file 1\n", 1<<64 - 1}, // saturates
		{"active_file 1\ninactive_file 1\nfile_dirty 18446744073709551615\nfile_writeback 9\n", 0},
		{"active_file 7\ninactive_file 0\nactive_file 99\n", 7}, // the first line wins, as in statValue
	} {
		got, err := cleanFileCache([]byte(tt.stat), "memory.stat", &v2ReclaimKeys)
		require.NoError(t, err, tt.stat)
		assert.Equal(t, tt.want, got, tt.stat)
	}
	_, err := cleanFileCache([]byte("active_file 7\nfile_dirty 1"), "x/memory.stat", &v2ReclaimKeys)
	assert.EqualError(t, err, `cgroups: x/memory.stat has no "inactive_file" line`)
}
