package watchdog

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFmtSize(t *testing.T) {
	for n, want := range map[uint64]string{
		0:                 "0 bytes",
		1023:              "1023 bytes",
		1024:              "1.0 KiB (1024 bytes)",
		256 << 20:         "256.0 MiB (268435456 bytes)",
		1536 << 20:        "1.5 GiB (1610612736 bytes)",
		math.MaxInt64 - 1: "8.0 EiB (9223372036854775806 bytes)",
		math.MaxInt64:     "no limit",
		math.MaxUint64:    "no limit",
		(1 << 40) + 1<<39: "1.5 TiB (1649267441664 bytes)",
	} {
		assert.Equal(t, want, fmtSize(n), "fmtSize(%d)", n)
	}
	assert.Equal(t, "unknown", fmtSoftLimit(-1))
	assert.Equal(t, "64.0 MiB (67108864 bytes)", fmtSoftLimit(64<<20))
}
