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
		"2Gi", "512mi", "1G", "256mib", "2GI", "15Ei", "16ei", "1e", "1e3k", "0X1P4", "infinity", "5 pB",
	} {
		f.Add(s)
	}
	// A whole number with a unit is exact: n × the unit's multiplier.
	exact := map[string]uint64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
		"m": 1e6, "mi": 1 << 20, "g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30, "t": 1e12, "ti": 1 << 40,
		"p": 1e15, "pi": 1 << 50, "e": 1e18, "ei": 1 << 60, "eib": 1 << 60}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err == nil && v < 1 {
			t.Fatalf("ParseSize(%q) = %d", s, v)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Fatalf("ParseSize(%q): error %q does not quote the input", s, err)
		}
		// Units are read in any letter case: upper and lower case agree.
		if isASCII(s) {
			lv, lerr := ParseSize(strings.ToLower(s))
			uv, uerr := ParseSize(strings.ToUpper(s))
			if (lerr == nil) != (uerr == nil) || lv != uv {
				t.Fatalf("ParseSize(%q) = %d, %v but ParseSize(%q) = %d, %v",
					strings.ToLower(s), lv, lerr, strings.ToUpper(s), uv, uerr)
			}
		}
		t2 := strings.TrimSpace(s)
		i := len(t2)
		for i > 0 && isASCIILetter(t2[i-1]) {
			i--
		}
		num, unit := strings.TrimSpace(t2[:i]), strings.ToLower(t2[i:])
		mult, ok := exact[unit]
		if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
			return
		}
		n, perr := strconv.ParseUint(num, 10, 64)
		want, valid := n*mult, perr == nil && n > 0 && n <= math.MaxUint64/mult
		if valid == (err == nil) && (!valid || v == want) {
			return
		}
		t.Fatalf("ParseSize(%q) = %d, %v; want %d, ok %v", s, v, err, want, valid)
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
