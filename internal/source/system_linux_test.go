package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMeminfoFixtures(t *testing.T) {
	for _, tt := range []struct {
		file         string
		total, usage uint64
		err          string
	}{
		{file: "linux-6.18", total: 24684092 * 1024, usage: (24684092 - 24265356) * 1024},
		{file: "linux-3.10-no-available", total: 8010504 * 1024, usage: (8010504 - 512000 - 102400 - 2048000) * 1024},
		{file: "garbage-total", err: `garbage-total: MemTotal value "lots kB" is not a size in kB`},
		{file: "bad-unit", err: `bad-unit: MemTotal value "1000 MB" is not a size in kB`},
		{file: "no-total", err: "no-total has no MemTotal line"},
		{file: "no-available", err: "no-available has no MemAvailable line"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			s, err := openMeminfo(filepath.Join("testdata", "meminfo", tt.file))
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			total, err := s.Limit()
			require.NoError(t, err)
			assert.Equal(t, tt.total, total)
			usage, err := s.Usage()
			require.NoError(t, err)
			assert.Equal(t, tt.usage, usage)
		})
	}
}

func TestMeminfoChangesAndLongFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meminfo")
	write := func(s string) { require.NoError(t, os.WriteFile(file, []byte(s), 0o644)) }
	write("MemTotal: 100 kB\nMemAvailable: 40 kB\n")
	s, err := openMeminfo(file)
	require.NoError(t, err)
	defer s.Close()

	write("MemTotal: 100 kB\nMemAvailable: 10 kB\n")
	usage, err := s.Usage()
	require.NoError(t, err)
	assert.Equal(t, uint64(90*1024), usage)

	write("MemTotal: 100 kB\nMemAvailable: 200 kB\n")
	usage, err = s.Usage()
	require.NoError(t, err)
	assert.Zero(t, usage, "available above total clamps to 0")

	// Only the start of a long file is read; a line the buffer cuts is
	// dropped rather than misparsed.
	long := "MemTotal: 100 kB\n" + strings.Repeat("Other: 1 kB\n", 100) + "MemAvailable: 10 kB\n"
	write(long)
	_, err = s.Usage()
	assert.ErrorContains(t, err, "no MemAvailable line")

	cut := "MemTotal: 100 kB\n" + strings.Repeat("X", 1024-len("MemTotal: 100 kB\n")-len("MemAvailable: 1")) + "\nMemAvailable: 12345 kB\n"
	write(cut)
	_, err = s.Usage()
	assert.ErrorContains(t, err, "no MemAvailable line")

	require.NoError(t, s.Close())
	_, err = s.Usage()
	assert.ErrorIs(t, err, os.ErrClosed)
}

func TestMeminfoUsageDoesNotAllocate(t *testing.T) {
	for _, path := range []string{"testdata/meminfo/linux-6.18", meminfoPath} {
		s, err := openMeminfo(path)
		require.NoError(t, err)
		var uerr, lerr error
		allocs := testing.AllocsPerRun(100, func() {
			_, uerr = s.Usage()
			_, lerr = s.Limit()
		})
		require.NoError(t, uerr)
		require.NoError(t, lerr)
		assert.Zero(t, allocs, path)
		require.NoError(t, s.Close())
	}
}

func BenchmarkMeminfoFixture(b *testing.B) {
	s, err := openMeminfo("testdata/meminfo/linux-6.18")
	require.NoError(b, err)
	defer s.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := s.Usage(); err != nil {
			b.Fatal(err)
		}
	}
}
