package sampling

import (
	"testing"
)

// sink keeps the compiler from dropping the reads.
var sink uint64

// benchSource measures one call of read per iteration.
func benchSource(b *testing.B, read func() (uint64, error)) {
	if _, err := read(); err != nil {
		b.Skipf("source unavailable here: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := read()
		if err != nil {
			b.Fatal(err)
		}
		sink += v
	}
}
