//go:build linux

package cgroups

import (
	"bytes"
	"fmt"
	"strings"
)

// unlimited is the threshold from which a limit value means "no limit": the
// kernel reports an unset v1 limit as 9223372036854771712 (2^63 rounded down
// to a page), and no real limit comes close to 2^62 bytes.
const unlimited = uint64(1) << 62

// parseUint parses a decimal unsigned integer followed by optional white
// space (the trailing newline of a cgroup file). It does not allocate.
func parseUint(b []byte) (uint64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false // overflow
		}
		v = v*10 + d
	}
	return v, true
}

// trimSpace drops leading and trailing ASCII white space without allocating.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// statValue finds the line "<key> <value>" in the contents of a flat keyed
// file such as memory.stat or memory.events and returns its value. found is
// false when no line has the key; ok is false when the value is not an
// unsigned integer. It does not allocate.
func statValue(b []byte, key string) (v uint64, found, ok bool) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > len(key) && line[len(key)] == ' ' && string(line[:len(key)]) == key {
			v, ok = parseUint(line[len(key)+1:])
			return v, true, ok
		}
	}
	return 0, false, false
}

// statLine returns the raw value of key in a flat keyed file, for error
// messages.
func statLine(b []byte, key string) string {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v
		}
	}
	return ""
}

// badValue is the error for a file whose content breaks the rule it must
// follow.
func badValue(path string, content []byte, rule string) error {
	s := string(trimSpace(content))
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Errorf("cgroups: %s: value %q is not %s", path, s, rule)
}
