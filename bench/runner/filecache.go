package main

import (
	"fmt"

	"github.com/raulk/go-watchdog/bench/internal/memstat"
)

// cleanFileCache reads a cgroup v1 group's memory.stat and returns its clean
// file cache in bytes: active plus inactive file pages, less dirty pages and
// pages under writeback (the hierarchical total_ fields). The kernel drops
// these pages before it OOM-kills anything.
func cleanFileCache(groupDir string) (uint64, error) {
	fields, err := memstat.Read(groupDir)
	if err != nil {
		return 0, err
	}
	for _, k := range []string{"total_active_file", "total_inactive_file", "total_dirty", "total_writeback"} {
		if _, ok := fields[k]; !ok {
			return 0, fmt.Errorf("%s/memory.stat lacks some of total_active_file, total_inactive_file, total_dirty, total_writeback", groupDir)
		}
	}
	file := fields["total_active_file"] + fields["total_inactive_file"]
	unclean := fields["total_dirty"] + fields["total_writeback"]
	if unclean >= file {
		return 0, nil
	}
	return file - unclean, nil
}

// diskBacked returns an error if dir is on tmpfs or ramfs, whose pages are
// shared memory rather than page cache the kernel can drop.
func diskBacked(dir string) error {
	if err := memstat.DiskBacked(dir); err != nil {
		return fmt.Errorf("temp dir: %w; the activecache scenario needs its file on a disk-backed file system: set TMPDIR to a directory on disk", err)
	}
	return nil
}
