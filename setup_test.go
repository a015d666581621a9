package watchdog

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"1073741824", 1 << 30},
		{"1", 1},
		{"7B", 7},
		{"512MiB", 512 << 20},
		{"1.5GiB", 3 << 29},
		{"1KiB", 1 << 10},
		{"2TiB", 2 << 40},
		{"2GB", 2_000_000_000},
		{"100KB", 100_000},
		{"3MB", 3_000_000},
		{"1TB", 1_000_000_000_000},
		{" 64MiB ", 64 << 20},
		{"\t64MiB\n", 64 << 20},
		{"64 MiB", 64 << 20},
		{"0.5KiB", 512},
		{"18446744073709549568", 18446744073709549568}, // largest float64 below 2^64
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseSize(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseSizeInvalid(t *testing.T) {
	tests := []string{
		"",
		"   ",
		"abc",
		"MiB",
		"-1MiB",
		"-5",
		"0",
		"0B",
		"0.4",
		"12XB",
		"12 mib", // units are case-sensitive
		"12gb",
		"NaN",
		"NaNMiB",
		"Inf",
		"+Inf",
		"1e30TiB",
		"18446744073709551616", // 2^64
		"1e20",
		"1MiB2",
	}
	for _, in := range tests {
		t.Run(strconv.Quote(in), func(t *testing.T) {
			got, err := ParseSize(in)
			require.Error(t, err)
			assert.Zero(t, got)
			assert.Contains(t, err.Error(), strconv.Quote(in), "the error names the input")
		})
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"zero value", Result{}, "no watchdog started"},
		{
			"none started with reasons",
			Result{Skipped: []string{"heap: no heap limit configured", "cgroup: no cgroup", "system: boom"}},
			"no watchdog started (heap: no heap limit configured; cgroup: no cgroup; system: boom)",
		},
		{
			"heap started",
			Result{Driver: "heap", Limit: 1 << 30},
			"heap watchdog started with limit 1073741824 bytes",
		},
		{
			"system started after skips",
			Result{Driver: "system", Limit: 4096, Skipped: []string{"heap: no heap limit configured", "cgroup: not limited"}},
			"system watchdog started with limit 4096 bytes (heap: no heap limit configured; cgroup: not limited)",
		},
		{
			"cgroup started with one skip",
			Result{Driver: "cgroup", Limit: 512 << 20, Skipped: []string{"heap: no heap limit configured"}},
			"cgroup watchdog started with limit 536870912 bytes (heap: no heap limit configured)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
}

func TestDefaultPolicyWatermarks(t *testing.T) {
	require.NotNil(t, DefaultPolicy)
	p, err := DefaultPolicy(1000)
	require.NoError(t, err)
	want := []uint64{500, 600, 700, 850, 900, 925, 950}
	used := uint64(0)
	for _, w := range want {
		next := p.Evaluate(UtilizationSystem, used)
		assert.Equal(t, w, next)
		used = next
	}
	assert.Equal(t, PolicyTempDisabled, p.Evaluate(UtilizationSystem, used))
}
