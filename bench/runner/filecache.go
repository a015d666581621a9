package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cleanFileCache reads a cgroup v1 group's memory.stat and returns its clean
// file cache in bytes: active plus inactive file pages, less dirty pages and
// pages under writeback (the hierarchical total_ fields). The kernel drops
// these pages before it OOM-kills anything.
func cleanFileCache(groupDir string) (uint64, error) {
	f, err := os.Open(filepath.Join(groupDir, "memory.stat"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := map[string]uint64{"total_active_file": 0, "total_inactive_file": 0, "total_dirty": 0, "total_writeback": 0}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if _, wanted := want[k]; !ok || !wanted {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s value %q is not a byte count", f.Name(), k, v)
		}
		want[k] = n
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if found < len(want) {
		return 0, fmt.Errorf("%s lacks some of total_active_file, total_inactive_file, total_dirty, total_writeback", f.Name())
	}
	file := want["total_active_file"] + want["total_inactive_file"]
	unclean := want["total_dirty"] + want["total_writeback"]
	if unclean >= file {
		return 0, nil
	}
	return file - unclean, nil
}

// diskBacked returns an error if dir is on tmpfs or ramfs, whose pages are
// shared memory rather than page cache the kernel can drop.
func diskBacked(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking the file system of %s: %w", dir, err)
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return fmt.Errorf("temp dir %s is on tmpfs or ramfs: the activecache scenario needs its file on a disk-backed file system (tmpfs pages are shared memory, not reclaimable page cache); set TMPDIR to a directory on disk", dir)
	}
	return nil
}
