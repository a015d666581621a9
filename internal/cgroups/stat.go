//go:build linux

package cgroups

import (
	"bytes"
	"fmt"
)

// reclaimKeys names the memory.stat counters Reclaimable reads, in this
// order: active file LRU, inactive file LRU (both required), dirty and
// under-writeback page cache (0 when the kernel does not report them).
type reclaimKeys [4]string

var (
	// v1 totals include descendant cgroups, like memory.usage_in_bytes.
	v1ReclaimKeys = reclaimKeys{"total_active_file", "total_inactive_file", "total_dirty", "total_writeback"}
	// v2 memory.stat is always hierarchical.
	v2ReclaimKeys = reclaimKeys{"active_file", "inactive_file", "file_dirty", "file_writeback"}
)

// statValues finds each of keys (which hold no space) in the flat keyed
// file b in one pass. For every key, v, found and ok mean what they mean for
// statValue, which gives the same answer key by key: the first matching line
// wins. It does not allocate.
func statValues(b []byte, keys *reclaimKeys) (v [4]uint64, found, ok [4]bool) {
	left := len(keys)
	for len(b) > 0 && left > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		for k, key := range keys {
			if !found[k] && len(key) == sp && string(line[:sp]) == key {
				v[k], ok[k] = parseUint(line[sp+1:])
				found[k] = true
				left--
			}
		}
	}
	return v, found, ok
}

// cleanFileCache computes Reclaimable from the contents of memory.stat
// (file names it in errors): active + inactive file cache, less the dirty
// and writeback pages, clamped at 0. Missing dirty or writeback counters
// count as 0; a missing LRU counter or a malformed value is an error.
func cleanFileCache(b []byte, file string, keys *reclaimKeys) (uint64, error) {
	v, found, ok := statValues(b, keys)
	for k, key := range keys {
		if !found[k] && k < 2 {
			return 0, fmt.Errorf("cgroups: %s has no %q line", file, key)
		}
		if found[k] && !ok[k] {
			return 0, badValue(file, []byte(statLine(b, key)), "a byte count (unsigned integer) for "+key)
		}
	}
	cache, busy := addSat(v[0], v[1]), addSat(v[2], v[3])
	if busy >= cache {
		return 0, nil
	}
	return cache - busy, nil
}

// addSat returns a + b, or MaxUint64 when the sum overflows.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}
