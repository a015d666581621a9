//go:build linux

package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReclaimableModel reads memory.stat fixtures through a Reader: the
// file cache is active + inactive file, dirty and under writeback included
// (the kernel writes those back before it kills), from the hierarchical
// totals on v1. On v2 the charge memory.stat does not account for
// (memory.current less anon + file + kernel + sock: freed parts of huge
// pages awaiting a split) is reclaimable too.
func TestReclaimableModel(t *testing.T) {
	defer func(l uint64) { statLag = l }(statLag)
	statLag = 1 << 20                                   // the counters may trail usage by 1 MiB
	const thpAccounted = 128<<20 + 4<<20 + 3<<20 + 4096 // v2-thp-split.stat's anon + file + kernel + sock
	for _, tt := range []struct {
		fixture, stat string // stat: a file in testdata/stat, or "" for the fixture's own
		current       uint64 // memory.current to write (v2), or 0 to keep the fixture's
		want          uint64
	}{
		// total_*: 3 MiB active + 1 MiB inactive, 256 KiB dirty and 64 KiB
		// under writeback among them; the group's own (non-total) counters
		// are ignored.
		{"v1-limited", "", 0, 3<<20 + 1<<20},
		{"v1-limited", "v1-dirty-over.stat", 0, 64<<10 + 32<<10}, // all dirty or under writeback: still reclaimable
		{"v1-limited", "v1-old-kernel.stat", 0, 3358720},         // no total_dirty, total_writeback
		// 6 MiB active + 2 MiB inactive, 128 KiB of it dirty; the 1 MiB
		// of shmem (in "file") is on the anon LRU lists and not counted.
		// memory.current is anon + file + kernel + sock: nothing pending.
		{"v2-limited", "", 0, 6<<20 + 2<<20},
		{"v2-limited", "v2-dirty-over.stat", 8192 + 20480 + 65536, 4096 + 8192},
		// No file_dirty, file_writeback, nor kernel (before Linux 5.18):
		// the file cache alone, however far memory.current is above.
		{"v2-limited", "v2-old-kernel.stat", 1 << 30, 3358720},
		// A Go heap on huge pages that freed 40 MiB of them: 4 MiB of
		// clean cache plus the 40 MiB still charged, less the 1 MiB the
		// counters may trail by.
		{"v2-limited", "v2-thp-split.stat", thpAccounted + 40<<20, 4<<20 + 39<<20},
		{"v2-limited", "v2-thp-split.stat", thpAccounted + 1<<20, 4 << 20},
		{"v2-limited", "v2-thp-split.stat", thpAccounted, 4 << 20},
		{"v2-limited", "v2-thp-split.stat", thpAccounted - 1<<20, 4 << 20}, // charged between the reads: clamped
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
			if tt.current != 0 {
				require.NoError(t, os.WriteFile(filepath.Join(r.Path(), "memory.current"), []byte(strconv.FormatUint(tt.current, 10)+"\n"), 0o644))
			}
			got, err := r.Reclaimable()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFileCacheEdges(t *testing.T) {
	for _, tt := range []struct {
		stat string
		want uint64
	}{
		{"active_file 10\ninactive_file 5\nfile_dirty 15\n", 15},           // dirty pages are written back, then reclaimed
		{"active_file 18446744073709551615\ninactive_file 1\n", 1<<64 - 1}, // saturates
		{"active_file 1\ninactive_file 1\nfile_dirty 1x\nfile_writeback 9\n", 2},
		{"active_file 7\ninactive_file 0\nactive_file 99\n", 7}, // the first line wins, as in statValue
	} {
		got, err := fileCache([]byte(tt.stat), "memory.stat", &v2ReclaimKeys)
		require.NoError(t, err, tt.stat)
		assert.Equal(t, tt.want, got, tt.stat)
	}
	_, err := fileCache([]byte("active_file 7\nfile_dirty 1"), "x/memory.stat", &v2ReclaimKeys)
	assert.EqualError(t, err, `cgroups: x/memory.stat has no "inactive_file" line`)
}

func TestSplitPendingEdges(t *testing.T) {
	const thp = "thp_fault_alloc 3\n"
	for _, tt := range []struct {
		usage, lag uint64
		stat       string
		want       uint64
	}{
		{100, 0, thp + "anon 10\nfile 20\nkernel 30\nsock 5\n", 35},
		{100, 7, thp + "anon 10\nfile 20\nkernel 30\nsock 5\n", 28},                 // less the counters' lag
		{100, 0, "anon 10\nfile 20\nkernel 30\nsock 5\n", 0},                        // no huge page ever: lag only
		{100, 0, "anon_thp 0\nthp_fault_alloc 0\nanon 10\nfile 20\nkernel 30\n", 0}, // the same
		{100, 0, "anon_thp 2097152\nanon 10\nfile 20\nkernel 30\n", 40},
		{100, 0, "thp_collapse_alloc 1\nanon 10\nfile 20\nkernel 30\n", 40},
		{100, 0, thp + "anon 10\nfile 20\nkernel 30\n", 40},                 // no sock line: 0
		{100, 0, thp + "anon 10\nfile 20\nkernel 30\nsock x\n", 40},         // a bad sock value: 0
		{100, 0, thp + "anon 10\nfile 20\n", 0},                             // no kernel line (before 5.18): no estimate
		{100, 0, thp + "anon 10\nfile -20\nkernel 30\n", 0},                 // malformed: no estimate
		{100, 0, thp + "anon 60\nfile 20\nkernel 30\n", 0},                  // over usage: clamped
		{100, 0, thp + "anon 18446744073709551615\nfile 1\nkernel 1\n", 0},  // saturates, no wrap
		{100, 0, thp + "anon 10\nfile 20\nkernel 30\nkernel_stack 9\n", 40}, // prefixes are other keys
	} {
		assert.Equal(t, tt.want, splitPending(tt.usage, 0, tt.lag, []byte(tt.stat), false), "%d %d %q", tt.usage, tt.lag, tt.stat)
	}
	// v1: kernel memory comes from memory.kmem.usage_in_bytes; no sock; the
	// huge-page gate is total_rss_huge.
	v1 := []byte("rss 1\ncache 2\ntotal_rss 10\ntotal_cache 20\ntotal_rss_huge 2097152\n sock 99\n")
	assert.Equal(t, uint64(100-10-20-30), splitPending(100, 30, 0, v1, true))
	assert.Equal(t, uint64(100-10-20-30-5), splitPending(100, 30, 5, v1, true))
	assert.Equal(t, uint64(0), splitPending(100, 80, 0, v1, true))
	assert.Equal(t, uint64(0), splitPending(100, 0, 0, []byte("total_rss 10\ntotal_cache 20\ntotal_rss_huge 0\n"), true), "no huge page")
	assert.Equal(t, uint64(0), splitPending(100, 0, 0, []byte("total_rss 10\ntotal_rss_huge 1\n"), true), "no total_cache: no estimate")
}
