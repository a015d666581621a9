package watchdog

import (
	"fmt"
	"math"
)

// NewAdaptivePolicy returns a constructor for a policy that forces the next GC
// after a fixed fraction of the remaining headroom has been used: with a limit
// L and usage u (bytes, measured after the last GC), the next threshold is
// u + (L-u)×factor. When u >= L it returns u, so the watchdog forces GC at
// the next sample that is not lower.
//
// factor must be in (0, 1]; otherwise the constructor returns an error naming
// the value.
func NewAdaptivePolicy(factor float64) PolicyCtor {
	return func(limit uint64) (Policy, error) {
		if err := checkLimit(limit); err != nil {
			return nil, err
		}
		if math.IsNaN(factor) || factor <= 0 || factor > 1 {
			return nil, fmt.Errorf("watchdog: adaptive factor %v is outside (0, 1]", factor)
		}
		return &adaptivePolicy{factor: factor, limit: limit}, nil
	}
}

type adaptivePolicy struct {
	factor float64
	limit  uint64
}

func (p *adaptivePolicy) Evaluate(_ UtilizationType, used uint64) uint64 {
	if used >= p.limit {
		return used
	}
	return used + fraction(p.limit-used, p.factor)
}

func (p *adaptivePolicy) String() string {
	return fmt.Sprintf("adaptive factor %v", p.factor)
}

func (p *adaptivePolicy) describe() string {
	return fmt.Sprintf("adaptive policy: factor %v of the headroom, thresholds used+(%d-used)×%v bytes", p.factor, p.limit, p.factor)
}
