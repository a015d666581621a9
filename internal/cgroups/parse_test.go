//go:build linux

package cgroups

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUint(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "0\n": 0, " 42 \n": 42, "18446744073709551615": 1<<64 - 1,
		"9223372036854771712\n": 9223372036854771712,
	} {
		v, ok := parseUint([]byte(in))
		assert.True(t, ok, in)
		assert.Equal(t, want, v, in)
	}
	for _, in := range []string{"", "\n", "max", "-1", "1.5", "12abc", "18446744073709551616", "1 2"} {
		_, ok := parseUint([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestStatValue(t *testing.T) {
	stat := []byte("inactive_file_x 1\nactive_file 2\ntotal_inactive_file 3\ninactive_file 4\nbad x\nlast 9")
	for _, tt := range []struct {
		key       string
		v         uint64
		found, ok bool
	}{
		{"inactive_file", 4, true, true},
		{"total_inactive_file", 3, true, true},
		{"active_file", 2, true, true},
		{"last", 9, true, true},
		{"bad", 0, true, false},
		{"missing", 0, false, false},
		{"inactive", 0, false, false},
	} {
		v, found, ok := statValue(stat, tt.key)
		assert.Equal(t, tt.v, v, tt.key)
		assert.Equal(t, tt.found, found, tt.key)
		assert.Equal(t, tt.ok, ok, tt.key)
	}
	assert.Equal(t, "x", statLine(stat, "bad"))
}
