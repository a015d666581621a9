package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildCache(t *testing.T) {
	dir := t.TempDir()
	if err := diskBacked(dir); err != nil {
		t.Skipf("temp dir not on disk: %v", err)
	}
	path := filepath.Join(dir, "cache.dat")
	const n = 3*mib + 123 // not a multiple of the write buffer
	if err := buildCache(path, n, 2); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != n {
		t.Fatalf("file has %d bytes, want %d", len(b), n)
	}
	// Every 8th byte starts its offset in base 36.
	if b[0] != '0' || b[8] != '8' || b[16] != 'g' || string(b[1<<20:1<<20+5]) != "mh34\x00" {
		t.Errorf("file content is not the written pattern: %q ... %q", b[:24], b[1<<20:1<<20+8])
	}
	// It never overwrites a file.
	if err := buildCache(path, n, 0); err == nil {
		t.Error("buildCache over an existing file: no error")
	}
}

func TestBuildCacheRefusesTmpfs(t *testing.T) {
	if err := diskBacked("/dev/shm"); err == nil {
		t.Skip("/dev/shm is not tmpfs here")
	}
	err := buildCache("/dev/shm/wdbench-never-created.dat", mib, 1)
	if err == nil || !strings.Contains(err.Error(), "tmpfs") {
		t.Fatalf("buildCache on tmpfs: err %v, want a tmpfs error", err)
	}
	if _, statErr := os.Stat("/dev/shm/wdbench-never-created.dat"); statErr == nil {
		t.Error("buildCache created the file on tmpfs")
	}
}

func TestFileCache(t *testing.T) {
	t.Setenv("WDBENCH_CGROUP", "")
	if _, _, ok, err := fileCache(); ok || err != nil {
		t.Errorf("without $WDBENCH_CGROUP: ok %v, err %v", ok, err)
	}
	dir := t.TempDir()
	t.Setenv("WDBENCH_CGROUP", dir)
	stat := filepath.Join(dir, "memory.stat")
	for _, tc := range []struct {
		stat             string
		active, inactive uint64
		wantErr          bool
	}{
		{"active_file 5\ninactive_file 6\ntotal_active_file 50\ntotal_inactive_file 60\n", 50, 60, false}, // v1: hierarchical
		{"anon 1\nactive_file 7\ninactive_file 8\n", 7, 8, false},                                         // v2
		{"anon 1\n", 0, 0, true},
	} {
		if err := os.WriteFile(stat, []byte(tc.stat), 0o644); err != nil {
			t.Fatal(err)
		}
		a, i, ok, err := fileCache()
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.stat)
			}
			continue
		}
		if err != nil || !ok || a != tc.active || i != tc.inactive {
			t.Errorf("%q: %d, %d, %v, %v; want %d, %d", tc.stat, a, i, ok, err, tc.active, tc.inactive)
		}
	}
}

func TestAllocUnpaced(t *testing.T) {
	if got := allocUnpaced(10*mib+1, 64<<10); got != 10*mib+64<<10 {
		t.Errorf("allocUnpaced = %d bytes, want whole pieces up to at least the total (%d)", got, 10*mib+64<<10)
	}
}
