//go:build !watchdog_v130

// This library's usage sources.

package sampling

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/raulk/go-watchdog/internal/cgroups"
	"github.com/raulk/go-watchdog/internal/source"
)

// BenchmarkThisCgroupV1 samples this process's own memory cgroup through
// this library's reader, on the host (cgroup v1 here).
func BenchmarkThisCgroupV1(b *testing.B) {
	r := openHost(b, 1)
	b.Run("Usage", func(b *testing.B) { benchSource(b, r.Usage) })
	b.Run("Reclaimable", func(b *testing.B) { benchSource(b, r.Reclaimable) })
	b.Run("Limit", func(b *testing.B) { benchSource(b, r.Limit) })
}

// BenchmarkThisCgroupV2 samples a cgroup v2 directory laid out in a temp
// dir (the host has no v2 memory controller): the same open-file pread the
// reader does on a real v2 host, on a regular file instead of kernfs.
func BenchmarkThisCgroupV2(b *testing.B) {
	dir := v2Fixture(b)
	r, err := cgroups.OpenDir(2, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	b.Run("Usage", func(b *testing.B) { benchSource(b, r.Usage) })
	b.Run("Reclaimable", func(b *testing.B) { benchSource(b, r.Reclaimable) })
	b.Run("Limit", func(b *testing.B) { benchSource(b, r.Limit) })
}

// BenchmarkThisSystem samples the whole system through this library's
// system source.
func BenchmarkThisSystem(b *testing.B) {
	s, err := source.NewSystem()
	if err != nil {
		b.Skipf("system source: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	b.Run("Usage", func(b *testing.B) { benchSource(b, s.Usage) })
	b.Run("Reclaimable", func(b *testing.B) { benchSource(b, s.Reclaimable) })
}

// openHost opens this process's memory cgroup and skips unless it is the
// wanted version.
func openHost(b *testing.B, version int) *cgroups.Reader {
	r, err := cgroups.Open(cgroups.Config{})
	if err != nil {
		b.Skipf("no memory cgroup: %v", err)
	}
	b.Cleanup(func() { r.Close() })
	if r.Version() != version {
		b.Skipf("this host's memory cgroup is v%d, not v%d", r.Version(), version)
	}
	return r
}

// v2Fixture writes a limited cgroup v2 directory with realistic file
// contents and returns its path.
func v2Fixture(b *testing.B) string {
	root := b.TempDir()
	dir := filepath.Join(root, "app.slice", "app.service")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"cgroup.procs":                         "",
		"app.slice/cgroup.procs":               "",
		"app.slice/memory.max":                 "max\n",
		"app.slice/app.service/memory.current": "123456789\n",
		"app.slice/app.service/memory.max":     "536870912\n",
		"app.slice/app.service/memory.events":  "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
		"app.slice/app.service/cgroup.procs":   "1234\n",
		"app.slice/app.service/memory.stat":    v2Stat,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// v2Stat is a memory.stat as a 6.x kernel writes it, so Reclaimable's
// parse walks a realistic number of lines before inactive_file.
const v2Stat = `anon 73400320
file 41943040
kernel 3145728
kernel_stack 327680
pagetables 638976
sec_pagetables 0
percpu 0
sock 0
vmalloc 0
shmem 0
zswap 0
zswapped 0
file_mapped 12582912
file_dirty 0
file_writeback 0
swapcached 0
anon_thp 0
file_thp 0
shmem_thp 0
inactive_anon 73342976
active_anon 57344
inactive_file 20971520
active_file 20971520
unevictable 0
slab_reclaimable 1310720
slab_unreclaimable 786432
slab 2097152
workingset_refault_anon 0
workingset_refault_file 0
workingset_activate_anon 0
workingset_activate_file 0
workingset_restore_anon 0
workingset_restore_file 0
workingset_nodereclaim 0
pgscan 0
pgsteal 0
pgscan_kswapd 0
pgscan_direct 0
pgsteal_kswapd 0
pgsteal_direct 0
pgfault 182935
pgmajfault 12
pgrefill 0
pgactivate 0
pgdeactivate 0
pglazyfree 0
pglazyfreed 0
thp_fault_alloc 0
thp_collapse_alloc 0
`
