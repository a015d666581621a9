//go:build linux

package cgroups

import "bytes"

// cgroup v2 memory controller files.
const (
	v2Usage  = "memory.current"
	v2Limit  = "memory.max"
	v2Events = "memory.events"
)

// parseV2Limit parses memory.max: "max" becomes MaxUint64, as do values
// >= 2^62.
func parseV2Limit(path string, b []byte) (uint64, error) {
	if bytes.Equal(trimSpace(b), []byte("max")) {
		return ^uint64(0), nil
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, badValue(path, b, `"max" or a byte count (unsigned integer)`)
	}
	if v >= unlimited {
		return ^uint64(0), nil
	}
	return v, nil
}

// limitV2 is Limit for cgroup v2: the smallest memory.max from the cgroup
// directory up to its top. The root cgroup has no memory.max.
func (r *Reader) limitV2() (uint64, error) {
	best, checked, err := r.walkLimits(v2Limit, parseV2Limit)
	if err != nil {
		return 0, err
	}
	if best >= unlimited {
		return 0, r.noLimit(v2Limit, checked)
	}
	return best, nil
}
