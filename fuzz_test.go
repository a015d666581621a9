package watchdog

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1073741824", "1", "0", "007", "7B", "512MiB", "1.5GiB", "2GB", " 3 KiB\n", "1e3", "0x1p4",
		"1_000", "-1", "+1", "NaN", "Inf", "KiB", "0.4", "1 B B", "1kib", "18446744073709551616", "18014398509481984KiB",
		"9007199254740993",     // once parsed through float64 as 9007199254740992
		"18446744073709551615", // once rejected as out of range
		"18014398509481983KiB", // 2^64-1024, once rejected
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err == nil && v < 1 {
			t.Fatalf("ParseSize(%q) = %d", s, v)
		}
		// "<n>" is n bytes and "<n>KiB" n*1024 bytes, exactly.
		num, kib := strings.CutSuffix(strings.TrimSpace(s), "KiB")
		if num = strings.TrimSpace(num); num == "" || strings.Trim(num, "0123456789") != "" {
			return
		}
		n, perr := strconv.ParseUint(num, 10, 64)
		want, ok := n, perr == nil && n > 0
		if kib {
			want, ok = n*1024, ok && n <= math.MaxUint64/1024
		}
		if ok == (err == nil) && (!ok || v == want) {
			return
		}
		t.Fatalf("ParseSize(%q) = %d, %v; want %d, ok %v", s, v, err, want, ok)
	})
}
