//go:build linux

package cgroups

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
)

// reclaimKeys names up to four memory.stat counters read in one pass. For
// the file cache: the active and the inactive file LRU, both required. For
// the charge split, see v2ChargeKeys.
type reclaimKeys [4]string

var (
	// v1 totals include descendant cgroups, like memory.usage_in_bytes.
	v1ReclaimKeys = reclaimKeys{"total_active_file", "total_inactive_file"}
	// v2 memory.stat is always hierarchical.
	v2ReclaimKeys = reclaimKeys{"active_file", "inactive_file"}
)

// The memory.stat counters that split what a group's usage charges (see
// splitPending): anonymous memory mapped by some process, page cache (shmem
// and tmpfs included), kernel memory (slab, stacks, page tables, percpu,
// vmalloc) and socket buffers. On v2 "kernel" needs Linux 5.18; v1 has no
// kernel line (memory.kmem.usage_in_bytes has it) and does not charge
// socket buffers to the group's memory. The THP keys tell whether the group
// has had transparent huge pages at all.
var (
	v2ChargeKeys = reclaimKeys{"anon", "file", "kernel", "sock"}
	v1ChargeKeys = reclaimKeys{"total_rss", "total_cache"}
	v2THPKeys    = reclaimKeys{"anon_thp", "thp_fault_alloc", "thp_collapse_alloc"}
	v1THPKeys    = reclaimKeys{"total_rss_huge"}
)

// statLag bounds, in bytes, how far memory.stat's counters may trail the
// usage counter: the kernel batches counter updates per CPU and flushes
// them on a read only past a threshold (64 pages per CPU, twice over:
// per CPU and for the group), while usage is charged at once. Memory that
// grows between flushes reads as unaccounted charge; splitPending leaves
// that much out. It counts the CPUs this process may run on, which is fewer
// than the kernel's online CPUs under a cpuset.
var statLag = uint64(2 * 64 * os.Getpagesize() * runtime.NumCPU())

// splitPending estimates, from a memory.stat b, the usage read just before
// it and, on v1, the kernel memory (kmem), the bytes charged to the group
// that no counter accounts for: the unmapped parts of transparent huge
// pages. When a process frees part of a huge page (MADV_DONTNEED, as the Go
// scavenger does), the kernel stops counting that part as anon at once but
// keeps the whole huge page, and its charge, until memory pressure splits
// it; reclaim in the group splits it and frees the unmapped parts before
// any OOM kill.
//
// It is usage less kmem, less the charge counters (v2: anon, file, kernel,
// sock; v1: total_rss, total_cache), less lag (see statLag), clamped at 0.
// It is 0 when the group shows no huge page (v2: anon_thp,
// thp_fault_alloc and thp_collapse_alloc all 0 or missing; v1:
// total_rss_huge), so counter lag alone never counts, and when a required
// counter is missing or malformed: before Linux 5.18 v2 has no "kernel"
// line, and kernel memory cannot be told apart. Sock counts as 0 when
// missing.
func splitPending(usage, kmem, lag uint64, b []byte, v1 bool) uint64 {
	charge, thp := &v2ChargeKeys, &v2THPKeys
	if v1 {
		charge, thp = &v1ChargeKeys, &v1THPKeys
	}
	h, _, hok := statValues(b, thp)
	if !(hok[0] && h[0] > 0 || hok[1] && h[1] > 0 || hok[2] && h[2] > 0) {
		return 0
	}
	v, found, ok := statValues(b, charge)
	for k, key := range charge {
		if k < 3 && key != "" && (!found[k] || !ok[k]) {
			return 0
		}
		if !ok[k] {
			v[k] = 0
		}
	}
	accounted := addSat(addSat(v[0], v[1]), addSat(addSat(v[2], v[3]), addSat(kmem, lag)))
	if usage <= accounted {
		return 0
	}
	return usage - accounted
}

// statValues finds each of keys (which hold no space; "" is no key) in the
// flat keyed file b in one pass. For every key, v, found and ok mean what they mean for
// statValue, which gives the same answer key by key: the first matching line
// wins. It does not allocate.
func statValues(b []byte, keys *reclaimKeys) (v [4]uint64, found, ok [4]bool) {
	left := 0
	for _, key := range keys {
		if key != "" {
			left++
		}
	}
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
			if !found[k] && key != "" && len(key) == sp && string(line[:sp]) == key {
				v[k], ok[k] = parseUint(line[sp+1:])
				found[k] = true
				left--
			}
		}
	}
	return v, found, ok
}

// fileCache computes the file cache part of Reclaimable from the contents
// of memory.stat (file names it in errors): the active and the inactive
// file LRU, dirty and under-writeback pages included, since the kernel
// writes them back and reclaims them before it OOM-kills anything. Shmem
// and tmpfs pages sit on the anonymous LRU lists and are not counted. A
// missing LRU counter or a malformed value is an error.
func fileCache(b []byte, file string, keys *reclaimKeys) (uint64, error) {
	v, found, ok := statValues(b, keys)
	for k, key := range keys[:2] {
		if !found[k] {
			return 0, fmt.Errorf("cgroups: %s has no %q line", file, key)
		}
		if !ok[k] {
			return 0, badValue(file, []byte(statLine(b, key)), "a byte count (unsigned integer) for "+key)
		}
	}
	return addSat(v[0], v[1]), nil
}

// addSat returns a + b, or MaxUint64 when the sum overflows.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}
