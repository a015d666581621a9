package main

// The activecache scenario: a program that has read a large file (a
// database's tables, say) so its pages sit on the cgroup's active file list,
// then allocates short-lived garbage as fast as it can. The page cache is
// clean and the kernel drops it before any OOM kill, so a watchdog that
// counts it as memory the program cannot give back squeezes the heap for
// nothing.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/raulk/go-watchdog/bench/internal/memstat"
)

// buildCache writes n bytes to path (which must not exist), syncing every
// 16 MiB so that little of it is ever dirty and all of it ends clean, then
// reads the whole file reads times, so the kernel moves its pages to the
// active file list. The caller removes the file.
func buildCache(path string, n, reads int) error {
	if err := diskBacked(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for off := 0; off < n; off += len(buf) {
		chunk := buf[:min(len(buf), n-off)]
		for j := 0; j < len(chunk); j += 8 {
			copy(chunk[j:], strconv.AppendInt(chunk[j:j], int64(off+j), 36))
		}
		if _, err := f.Write(chunk); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if end := off + len(chunk); end%(16*mib) == 0 || end == n {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("syncing %s: %w", path, err)
			}
		}
	}
	for i := 0; i < reads; i++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		for {
			_, err := f.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", path, err)
			}
		}
	}
	return nil
}

// diskBacked returns an error if dir is on tmpfs or ramfs: pages there are
// shared memory, which the kernel cannot drop, so they are no page cache
// for this scenario.
func diskBacked(dir string) error {
	if err := memstat.DiskBacked(dir); err != nil {
		return fmt.Errorf("%w; put -cache-file on a disk-backed file system (e.g. set TMPDIR)", err)
	}
	return nil
}

// allocUnpaced allocates total bytes of short-lived garbage in piece-byte
// buffers as fast as it can, keeping the last 64 reachable, and returns the
// bytes allocated.
func allocUnpaced(total uint64, piece int) uint64 {
	var window [64][]byte
	var allocated uint64
	for i := 0; allocated < total; i++ {
		b := make([]byte, piece)
		touch(b)
		window[i%len(window)] = b
		allocated += uint64(piece)
	}
	runtime.KeepAlive(window)
	return allocated
}

// fileCache reads the cgroup's active and inactive file page counts (bytes)
// from $WDBENCH_CGROUP/memory.stat: the hierarchical total_ fields on cgroup
// v1, the plain ones on v2. ok is false without $WDBENCH_CGROUP.
func fileCache() (active, inactive uint64, ok bool, err error) {
	dir := os.Getenv("WDBENCH_CGROUP")
	if dir == "" {
		return 0, 0, false, nil
	}
	fields, err := memstat.Read(dir)
	if err != nil {
		return 0, 0, false, err
	}
	for _, prefix := range []string{"total_", ""} {
		a, okA := fields[prefix+"active_file"]
		i, okI := fields[prefix+"inactive_file"]
		if okA && okI {
			return a, i, true, nil
		}
	}
	return 0, 0, false, errors.New(filepath.Join(dir, "memory.stat") + " has no active_file/inactive_file")
}
