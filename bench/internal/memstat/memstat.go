// Package memstat holds what the benchmark's runner and workload both need
// of the page cache: a cgroup's memory.stat, and whether a directory's
// files can be page cache at all.
package memstat

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Read parses groupDir/memory.stat ("key value" per line) into a map. A
// value that is not an unsigned integer is an error naming the key.
func Read(groupDir string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(groupDir, "memory.stat"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fields := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s value %q is not a byte count", f.Name(), k, v)
		}
		fields[k] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return fields, nil
}

// DiskBacked returns an error if dir is on tmpfs or ramfs: files there are
// shared memory, which the kernel cannot drop, not page cache.
func DiskBacked(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking the file system of %s: %w", dir, err)
	}
	switch int64(st.Type) {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return fmt.Errorf("%s is on tmpfs or ramfs: a file there is shared memory, not page cache the kernel can drop", dir)
	}
	return nil
}
