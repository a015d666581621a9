package watchdog

import (
	"fmt"
	"math"
	"sync"
)

// NewWatermarkPolicy returns a constructor for a policy that forces GC at fixed
// fractions of the limit. With a limit L and watermarks w1 < w2 < ... < wn,
// Evaluate returns the first L×wi that is above the current usage, or
// PolicyTempDisabled once usage has passed L×wn. End the list with a high
// watermark (0.95 or more) so the policy stays armed close to the limit.
//
// Each watermark must be in (0, 1]; otherwise the constructor returns an
// error naming the offending value, as it does for an empty list. Watermarks
// that are out of order or repeated, which v1.3.0 accepted, are sorted and
// de-duplicated, with a warning saying so.
func NewWatermarkPolicy(watermarks ...float64) PolicyCtor {
	given := append([]float64(nil), watermarks...) // the caller may reuse its slice
	sorted := sortedUnique(given)
	var warn sync.Once
	return func(limit uint64) (Policy, error) {
		if err := checkLimit(limit); err != nil {
			return nil, err
		}
		if len(given) == 0 {
			return nil, fmt.Errorf("watchdog: watermark policy needs at least one watermark")
		}
		for i, w := range given {
			if math.IsNaN(w) || w <= 0 || w > 1 {
				return nil, fmt.Errorf("watchdog: watermark %v (position %d) is outside (0, 1]", w, i)
			}
		}
		if !equalFloats(given, sorted) {
			warn.Do(func() {
				logNow(levelWarn, kindConfig, "watermarks %v are not strictly ascending; using them sorted and without repeats: %v", given, sorted)
			})
		}
		thresholds := make([]uint64, len(sorted))
		for i, w := range sorted {
			thresholds[i] = fraction(limit, w)
		}
		return &watermarkPolicy{watermarks: sorted, thresholds: thresholds}, nil
	}
}

type watermarkPolicy struct {
	watermarks []float64
	thresholds []uint64 // bytes, ascending
}

func (w *watermarkPolicy) Evaluate(_ UtilizationType, used uint64) uint64 {
	for _, t := range w.thresholds {
		if t > used {
			return t
		}
	}
	return PolicyTempDisabled
}

func (w *watermarkPolicy) String() string {
	return fmt.Sprintf("watermarks %v", w.watermarks)
}

func (w *watermarkPolicy) describe() string {
	return fmt.Sprintf("watermark policy: watermarks %v, thresholds %v bytes", w.watermarks, w.thresholds)
}

// fraction returns n×f for f in [0, 1], never above n: float64 rounding near
// 2^64 must not wrap.
func fraction(n uint64, f float64) uint64 {
	v := float64(n) * f
	if v >= float64(n) {
		return n
	}
	return uint64(v)
}

// sortedUnique returns ws sorted, without repeats. Insertion sort: a policy
// has a handful of watermarks.
func sortedUnique(ws []float64) []float64 {
	out := make([]float64, 0, len(ws))
	for _, w := range ws {
		i := len(out)
		for i > 0 && out[i-1] > w {
			i--
		}
		if i > 0 && out[i-1] == w {
			continue
		}
		out = append(out[:i], append([]float64{w}, out[i:]...)...)
	}
	return out
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
