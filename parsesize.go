package watchdog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits maps a lower-cased unit to its multiplier.
var sizeUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
	"t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15, "e": 1e18, "eb": 1e18,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50, "ei": 1 << 60, "eib": 1 << 60,
}

// sizeUnitsHelp lists the accepted units for error messages.
const sizeUnitsHelp = "B; k, M, G, T, P, E or KB, MB, GB, TB, PB, EB (powers of 1000); " +
	"Ki, Mi, Gi, Ti, Pi, Ei or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024); any letter case"

// ParseSize parses a byte size: a number with an optional unit, such as
// "1073741824", "512MiB", "2Gi", "1.5GiB", "2GB", "1G" or "64 mib".
//
// Units are read in any letter case. B is bytes; k, M, G, T, P, E and KB,
// MB, GB, TB, PB, EB are powers of 1000, as in Kubernetes quantities
// ("1G" and "1gb" are 10^9 bytes); Ki, Mi, Gi, Ti, Pi, Ei and KiB, MiB, GiB,
// TiB, PiB, EiB are powers of 1024 ("2Gi" is 2147483648 bytes). So "512m"
// is 512×10^6 bytes, not Docker's 512 MiB nor Kubernetes' 0.512 bytes:
// write "512Mi" for 512 MiB. Space may separate the number and the unit.
//
// Whole numbers are exact; a fraction ("1.5GiB") or an exponent ("1e9") is
// computed in float64 and rounded down to a whole byte. The result must be
// at least 1 byte and fit in a uint64; anything else is an error that quotes
// s and lists the accepted units.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && isASCIILetter(t[i-1]) {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), t[i:]
	if num == "" {
		return 0, fmt.Errorf("size %q has no number; write a number of bytes with an optional unit: %s", s, sizeUnitsHelp)
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("size %q has an unknown unit %q; accepted units: %s", s, unit, sizeUnitsHelp)
	}
	outside := fmt.Errorf("size %q is outside 1 byte .. 2^64-1 bytes", s)
	// Whole numbers are parsed exactly; only fractions go through float64.
	if n, err := strconv.ParseUint(num, 10, 64); err == nil {
		if n == 0 || n > math.MaxUint64/mult {
			return 0, outside
		}
		return n * mult, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, outside
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional unit; accepted units: %s", s, sizeUnitsHelp)
	}
	v := f * float64(mult)
	if v < 1 || v >= math.MaxUint64 {
		return 0, outside
	}
	return uint64(v), nil
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
