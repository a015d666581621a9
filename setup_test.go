package watchdog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/raulk/go-watchdog/internal/cgroups"
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
		{"7b", 7},
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
		// Kubernetes quantities.
		{"2Gi", 2147483648},
		{"512Mi", 512 << 20},
		{"4Ki", 4096},
		{"1Ti", 1 << 40},
		{"1Pi", 1 << 50},
		{"15Ei", 15 << 60},
		{"1G", 1_000_000_000},
		{"1k", 1000},
		{"128M", 128_000_000},
		{"2T", 2_000_000_000_000},
		{"3P", 3e15},
		{"1E", 1e18},
		{"1.5Gi", 3 << 29},
		{"1e3", 1000}, // an exponent, not exa
		{"1e3Ki", 1 << 10 * 1000},
		// Any letter case.
		{"256mib", 256 << 20},
		{"2GI", 2 << 30},
		{"1g", 1_000_000_000},
		{"12 mib", 12 << 20},
		{"12gb", 12_000_000_000},
		{"3KIB", 3 << 10},
		{"5kB", 5000},
		{"1e", 1e18},
		{"2 pib", 2 << 50},
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
	tests := []struct {
		in, why string
	}{
		{"", "no number"},
		{"   ", "no number"},
		{"abc", "no number"},
		{"MiB", "no number"},
		{"Gi", "no number"},
		{"-1MiB", "outside"},
		{"-5", "outside"},
		{"0", "outside"},
		{"0B", "outside"},
		{"0Gi", "outside"},
		{"0.4", "outside"},
		{"0.0001k", "outside"},
		{"12XB", `unknown unit "XB"`},
		{"12 bytes", `unknown unit "bytes"`},
		{"1Kib2", "not a number"},
		{"5iB", `unknown unit "iB"`},
		{"NaN", "no number"},
		{"NaNMiB", "no number"},
		{"Inf", "no number"},
		{"+Inf", `unknown unit "Inf"`},
		{"1e30TiB", "outside"},
		{"18446744073709551616", "outside"}, // 2^64
		{"16Ei", "outside"},
		{"18.5E", "outside"},
		{"1e20", "outside"},
		{"1MiB2", "not a number"},
		{"1 B B", "not a number"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseSize(tt.in)
			require.Error(t, err)
			assert.Zero(t, got)
			assert.Contains(t, err.Error(), strconv.Quote(tt.in), "the error names the input")
			assert.Contains(t, err.Error(), tt.why)
			if tt.why != "outside" {
				assert.Contains(t, err.Error(), "Ki, Mi, Gi", "the error lists the units")
			}
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
			Result{Skipped: []string{"heap: no heap limit configured", "cgroup: no limit", "system: boom"}},
			"no watchdog started; heap: no heap limit configured; cgroup: no limit; system: boom",
		},
		{
			"heap started",
			Result{Driver: "heap", Limit: 1 << 30},
			"heap watchdog started with limit 1.0 GiB (1073741824 bytes)",
		},
		{
			"system started after skips",
			Result{Driver: "system", Limit: 4096, Skipped: []string{"heap: no heap limit configured", "cgroup: no limit"}},
			"system watchdog started with limit 4.0 KiB (4096 bytes); heap: no heap limit configured; cgroup: no limit",
		},
		{
			"cgroup started with one skip",
			Result{Driver: "cgroup", Limit: 512 << 20, Skipped: []string{"heap: no heap limit configured"}},
			"cgroup watchdog started with limit 512.0 MiB (536870912 bytes); heap: no heap limit configured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
	t.Run("disabled", func(t *testing.T) {
		t.Setenv("GOWATCHDOG", "Off")
		assert.Equal(t, "watchdog disabled by GOWATCHDOG=Off", Result{Disabled: true}.String())
	})
}

func TestShortReason(t *testing.T) {
	long := errors.New("watchdog: " + strings.Repeat("é", 80))
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("watchdog: %w: cgroup v1 /sys/fs/cgroup/memory/x: every limit is unlimited (checked %q)", ErrNoCgroupLimit, strings.Repeat("/a/memory.limit_in_bytes ", 20)), "no limit"},
		{fmt.Errorf("watchdog: %w: not mounted", cgroups.ErrNoMemoryCgroup), "no memory cgroup"},
		{fmt.Errorf("watchdog: cgroups exist only on Linux: %w", ErrNotSupported), "not supported on "},
		{errors.New("watchdog: cannot read system memory: boom"), "cannot read system memory: boom"},
	}
	for _, tt := range tests {
		assert.Contains(t, shortReason(tt.err), tt.want)
	}
	got := shortReason(long)
	assert.LessOrEqual(t, len(got), 103, "long reasons are cut")
	assert.True(t, strings.HasSuffix(got, "..."))
	assert.True(t, strings.HasPrefix(got, "éé"), "the package prefix is dropped")
	assert.NotContains(t, got, "\ufffd", "cut on a rune boundary")
}

func TestStartRejectsBadOptions(t *testing.T) {
	SetLogger(&recLogger{})
	t.Cleanup(func() { SetLogger(defaultLogger) })
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{MinGOGC: -1}, "Options.MinGOGC -1 is negative"},
		{Options{Frequency: -1}, "Options.Frequency -1ns is negative"},
	} {
		res, stop, err := Start(tt.opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.Empty(t, res.Driver)
		require.NotNil(t, stop)
		stop()
		assert.False(t, Snapshot().Running)
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
