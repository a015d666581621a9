package watchdog

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A program that reads files fills its cgroup with clean, active page cache.
// The kernel drops it before it kills anything, so it must lower neither the
// usage the policy sees nor the soft limit: that was a 13x slowdown of such a
// program under the defaults.

func init() {
	children["cgroup-active-cache"] = childCgroupActiveCache
}

type activeCacheResult struct {
	ActiveFile  uint64 // total_active_file when the watchdog started
	Limit       uint64
	Usage       uint64
	Reclaimable uint64
	SoftLimit   int64
	Threshold   uint64
	ForcedGCs   uint64
}

// statKey reads one value from the group's memory.stat.
func statKey(dir, key string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if k, v, ok := bytes.Cut(line, []byte(" ")); ok && string(k) == key {
			return strconv.ParseUint(string(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s/memory.stat", key, dir)
}

func childCgroupActiveCache() (any, error) {
	SetLogger(&recLogger{})
	dir, file := os.Getenv("WATCHDOG_TEST_GROUP"), os.Getenv("WATCHDOG_TEST_CACHE_FILE")
	// Write 150 MiB and read it twice: its pages are charged to this group
	// and promoted to the active file list.
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	chunk := bytes.Repeat([]byte{0xa5}, mib)
	for i := 0; i < 150; i++ {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Sync(); err != nil { // clean, not dirty
		f.Close()
		return nil, err
	}
	for pass := 0; pass < 2; pass++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		if _, err := io.Copy(io.Discard, f); err != nil {
			f.Close()
			return nil, err
		}
	}
	f.Close()
	var res activeCacheResult
	if res.ActiveFile, err = statKey(dir, "total_active_file"); err != nil {
		return nil, err
	}
	err, stop := CgroupDriven(time.Second, NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95))
	if err != nil {
		return nil, err
	}
	defer stop()
	s := Snapshot()
	res.Limit, res.Usage, res.Reclaimable, res.SoftLimit, res.Threshold, res.ForcedGCs = s.Limit, s.Usage, s.Reclaimable, s.SoftLimit, s.Threshold, s.ForcedGCs
	return res, nil
}

func TestCgroupDrivenActiveCacheIsReclaimable(t *testing.T) {
	limit := uint64(256 << 20)
	g, cmd := cgroupChild(t, "watchdog-active-cache", limit, "cgroup-active-cache")
	file := filepath.Join(t.TempDir(), "cache")
	cmd.Env = append(cmd.Env, "WATCHDOG_TEST_GROUP="+g.Dir, "WATCHDOG_TEST_CACHE_FILE="+file)
	out, err := childOutput(cmd)
	require.NoError(t, err, "%s", out)
	var res activeCacheResult
	decodeChild(t, out, &res)
	require.GreaterOrEqual(t, res.ActiveFile, uint64(100<<20), "the test needs active file cache in the group")
	assert.GreaterOrEqual(t, res.Reclaimable, uint64(100<<20), "the clean active cache counts as reclaimable")
	assert.Less(t, res.Usage, limit/2, "the policy sees the program's memory, not the cache")
	assert.Greater(t, res.SoftLimit, int64(200<<20),
		"the soft limit is not lowered by %d MiB of clean cache (limit %d MiB)", res.ActiveFile>>20, limit>>20)
	assert.Zero(t, res.ForcedGCs)
	t.Logf("active file %d MiB, reclaimable %d MiB, usage %d MiB, soft limit %d MiB",
		res.ActiveFile>>20, res.Reclaimable>>20, res.Usage>>20, res.SoftLimit>>20)
}

func init() {
	children["cgroup-dirty-cache"] = childCgroupDirtyCache
}

// childCgroupDirtyCache starts CgroupDriven, then writes 150 MiB without
// syncing: dirty pages under writeback, charged to the group.
func childCgroupDirtyCache() (any, error) {
	SetLogger(&recLogger{})
	dir, file := os.Getenv("WATCHDOG_TEST_GROUP"), os.Getenv("WATCHDOG_TEST_CACHE_FILE")
	err, stop := CgroupDriven(time.Second, NewWatermarkPolicy(0.50, 0.60, 0.70, 0.85, 0.90, 0.925, 0.95))
	if err != nil {
		return nil, err
	}
	defer stop()
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0x5a}, mib)
	var res activeCacheResult
	for i := 0; i < 150; i++ {
		if _, err := f.Write(chunk); err != nil {
			return nil, err
		}
	}
	dirty, err := statKey(dir, "total_dirty")
	if err != nil {
		return nil, err
	}
	writeback, err := statKey(dir, "total_writeback")
	if err != nil {
		return nil, err
	}
	res.ActiveFile = dirty + writeback // here: what is dirty or under writeback
	// A sample after the write, at the watchdog's pace.
	for samples := Snapshot().Samples; Snapshot().Samples < samples+2; {
		time.Sleep(10 * time.Millisecond)
	}
	s := Snapshot()
	res.Limit, res.Usage, res.Reclaimable, res.SoftLimit, res.Threshold, res.ForcedGCs = s.Limit, s.Usage, s.Reclaimable, s.SoftLimit, s.Threshold, s.ForcedGCs
	return res, nil
}

// Dirty pages and pages under writeback are written back and reclaimed
// before any OOM kill: a steady writer gets no forced GC and no lower soft
// limit for them (it got 2-4 times the GCs of no watchdog when they counted
// as used).
func TestCgroupDrivenDirtyCacheIsReclaimable(t *testing.T) {
	limit := uint64(256 << 20)
	g, cmd := cgroupChild(t, "watchdog-dirty-cache", limit, "cgroup-dirty-cache")
	file := filepath.Join(t.TempDir(), "dirty")
	cmd.Env = append(cmd.Env, "WATCHDOG_TEST_GROUP="+g.Dir, "WATCHDOG_TEST_CACHE_FILE="+file)
	out, err := childOutput(cmd)
	require.NoError(t, err, "%s", out)
	var res activeCacheResult
	decodeChild(t, out, &res)
	t.Logf("dirty or under writeback %d MiB, reclaimable %d MiB, usage %d MiB, soft limit %d MiB",
		res.ActiveFile>>20, res.Reclaimable>>20, res.Usage>>20, res.SoftLimit>>20)
	if res.ActiveFile < 32<<20 {
		t.Skipf("the kernel wrote back all but %d MiB before the check: nothing dirty to see", res.ActiveFile>>20)
	}
	assert.Less(t, res.Usage, limit/2, "the policy sees the program's memory, not the dirty cache")
	assert.Greater(t, res.SoftLimit, int64(200<<20), "the soft limit is not lowered by dirty cache")
	assert.Zero(t, res.ForcedGCs)
}
