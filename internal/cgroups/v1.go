//go:build linux

package cgroups

import "fmt"

// cgroup v1 memory controller files.
const (
	v1Usage   = "memory.usage_in_bytes"
	v1Kmem    = "memory.kmem.usage_in_bytes"
	v1Limit   = "memory.limit_in_bytes"
	v1HierKey = "hierarchical_memory_limit"
)

// parseV1Limit parses memory.limit_in_bytes; values >= 2^62 (the kernel
// shows an unset limit as 9223372036854771712) become MaxUint64.
func parseV1Limit(path string, b []byte) (uint64, error) {
	v, ok := parseUint(b)
	if !ok {
		return 0, badValue(path, b, "a byte count (unsigned integer)")
	}
	if v >= unlimited {
		return ^uint64(0), nil
	}
	return v, nil
}

// limitV1 is Limit for cgroup v1: the smallest memory.limit_in_bytes from
// the cgroup directory up to its top, and hierarchical_memory_limit from memory.stat, which
// the kernel computes over all ancestors, including those outside a
// container's view.
func (r *Reader) limitV1() (uint64, error) {
	best, checked, err := r.walkLimits(v1Limit, parseV1Limit)
	if err != nil {
		return 0, err
	}
	b, err := r.cur.stat.load(true)
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	statFile := r.cur.stat.name()
	if v, found, ok := statValue(b, v1HierKey); found {
		if !ok {
			return 0, badValue(statFile, []byte(statLine(b, v1HierKey)), "a byte count (unsigned integer) for "+v1HierKey)
		}
		checked = append(checked, statFile+" "+v1HierKey)
		if v < unlimited {
			best = min(best, v)
		}
	}
	if best >= unlimited {
		return 0, r.noLimit(v1Limit, checked)
	}
	return best, nil
}
