package source

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSystemOnHost(t *testing.T) {
	s, err := NewSystem()
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "system", s.String())
	total, err := s.Limit()
	require.NoError(t, err)
	usage, err := s.Usage()
	require.NoError(t, err)
	assert.Greater(t, usage, uint64(0))
	assert.Less(t, usage, total)
	reclaim, err := s.Reclaimable()
	require.NoError(t, err)
	assert.Zero(t, reclaim)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	t.Logf("system: usage %d of %d bytes", usage, total)
}

func BenchmarkSystemUsage(b *testing.B) {
	s, err := NewSystem()
	require.NoError(b, err)
	defer s.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Usage(); err != nil {
			b.Fatal(err)
		}
	}
}
