//go:build linux

package cgroups

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// readers returns the fixture readers and, when this host has a memory
// cgroup, the host reader.
func readers(tb testing.TB) map[string]*Reader {
	tb.Helper()
	out := map[string]*Reader{}
	for _, name := range []string{"v1-limited", "v2-limited"} {
		r, err := Open(fixtureConfig(name, 0))
		require.NoError(tb, err)
		tb.Cleanup(func() { r.Close() })
		out[name] = r
	}
	r, err := Open(Config{})
	if err == nil {
		tb.Cleanup(func() { r.Close() })
		out["host"] = r
	} else if !errors.Is(err, ErrNoMemoryCgroup) {
		tb.Fatal(err)
	}
	return out
}

func TestUsageDoesNotAllocate(t *testing.T) {
	for name, r := range readers(t) {
		var err error
		allocs := testing.AllocsPerRun(100, func() { _, err = r.Usage() })
		require.NoError(t, err)
		require.Zero(t, allocs, "%s: Usage allocates", name)
		allocs = testing.AllocsPerRun(100, func() { _, err = r.Reclaimable() })
		require.NoError(t, err)
		require.Zero(t, allocs, "%s: Reclaimable allocates", name)
	}
}

func benchmark(b *testing.B, read func(*Reader) (uint64, error)) {
	for name, r := range readers(b) {
		b.Run(name+"/v"+string(rune('0'+r.Version())), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := read(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUsage(b *testing.B)       { benchmark(b, (*Reader).Usage) }
func BenchmarkReclaimable(b *testing.B) { benchmark(b, (*Reader).Reclaimable) }
func BenchmarkLimit(b *testing.B) {
	benchmark(b, func(r *Reader) (uint64, error) {
		v, err := r.Limit()
		if errors.Is(err, ErrNoLimit) {
			err = nil
		}
		return v, err
	})
}
