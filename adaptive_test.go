package watchdog

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdaptivePolicyEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		factor float64
		limit  uint64
		used   uint64
		want   uint64
	}{
		{"half headroom from zero", 0.5, 1000, 0, 500},
		{"half headroom", 0.5, 1000, 400, 700},
		{"quarter headroom", 0.25, 1000, 200, 400},
		{"tenth headroom", 0.1, 1 << 30, 1 << 29, 536870912 + 53687091},
		{"one byte of headroom truncates to used", 0.5, 1000, 999, 999},
		{"used equals limit returns used", 0.5, 1000, 1000, 1000},
		{"used above limit returns used", 0.5, 1000, 1500, 1500},
		{"used far above limit returns used", 0.9, 1000, math.MaxUint64, math.MaxUint64},
		{"factor 1 from zero returns limit", 1, 1000, 0, 1000},
		{"factor 1 returns limit", 1, 1000, 123, 1000},
		{"factor 1 large limit returns limit", 1, 64 << 30, 3 << 30, 64 << 30},
		{"factor 1 at limit returns limit", 1, 1000, 1000, 1000},
		{"tiny factor", 0.001, 1_000_000, 0, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewAdaptivePolicy(tt.factor)(tt.limit)
			require.NoError(t, err)
			for _, scope := range []UtilizationType{UtilizationSystem, UtilizationProcess, UtilizationHeap} {
				assert.Equal(t, tt.want, p.Evaluate(scope, tt.used), "scope %v", scope)
			}
		})
	}
}

func TestAdaptivePolicyNeverBelowUsedNorAboveLimit(t *testing.T) {
	const limit = 1 << 32
	for _, factor := range []float64{0.01, 0.3, 0.5, 0.99, 1} {
		p, err := NewAdaptivePolicy(factor)(limit)
		require.NoError(t, err)
		for _, used := range []uint64{0, 1, 1 << 10, 1 << 20, limit / 3, limit / 2, limit - 1} {
			next := p.Evaluate(UtilizationHeap, used)
			assert.GreaterOrEqual(t, next, used, "factor %v used %d", factor, used)
			assert.LessOrEqual(t, next, uint64(limit), "factor %v used %d", factor, used)
			want := used + uint64(float64(limit-used)*factor)
			assert.Equal(t, want, next, "factor %v used %d", factor, used)
		}
	}
}

func TestAdaptivePolicyInvalid(t *testing.T) {
	tests := []struct {
		name      string
		factor    float64
		limit     uint64
		wantInMsg []string
	}{
		{"factor zero", 0, 1000, []string{"factor 0 "}},
		{"negative factor", -0.1, 1000, []string{"-0.1"}},
		{"factor above one", 1.1, 1000, []string{"1.1"}},
		{"factor NaN", math.NaN(), 1000, []string{"NaN"}},
		{"factor +Inf", math.Inf(1), 1000, []string{"Inf"}},
		{"limit zero", 0.5, 0, []string{"limit", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewAdaptivePolicy(tt.factor)(tt.limit)
			require.Error(t, err)
			assert.Nil(t, p)
			for _, s := range tt.wantInMsg {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestAdaptivePolicyCtorReusable(t *testing.T) {
	ctor := NewAdaptivePolicy(0.5)
	a, err := ctor(1000)
	require.NoError(t, err)
	b, err := ctor(2000)
	require.NoError(t, err)
	_, err = ctor(0)
	require.Error(t, err)

	assert.Equal(t, uint64(500), a.Evaluate(UtilizationSystem, 0))
	assert.Equal(t, uint64(1000), b.Evaluate(UtilizationSystem, 0))
	assert.Equal(t, uint64(1000), a.Evaluate(UtilizationSystem, 1000))
	assert.Equal(t, uint64(1500), b.Evaluate(UtilizationSystem, 1000))
}

func TestAdaptivePolicyString(t *testing.T) {
	p, err := NewAdaptivePolicy(0.25)(1000)
	require.NoError(t, err)
	s, ok := p.(interface{ String() string })
	require.True(t, ok, "adaptive policy should describe itself")
	assert.Contains(t, s.String(), "0.25")
}

func TestPolicyFunc(t *testing.T) {
	var _ Policy = PolicyFunc(nil)

	type call struct {
		scope UtilizationType
		used  uint64
	}
	var calls []call
	var p Policy = PolicyFunc(func(scope UtilizationType, used uint64) uint64 {
		calls = append(calls, call{scope, used})
		if used > 100 {
			return PolicyTempDisabled
		}
		return used * 2
	})

	tests := []struct {
		scope UtilizationType
		used  uint64
		want  uint64
	}{
		{UtilizationSystem, 0, 0},
		{UtilizationProcess, 7, 14},
		{UtilizationHeap, 50, 100},
		{UtilizationHeap, 101, PolicyTempDisabled},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, p.Evaluate(tt.scope, tt.used))
	}
	require.Len(t, calls, len(tests))
	for i, tt := range tests {
		assert.Equal(t, call{tt.scope, tt.used}, calls[i])
	}

	// A PolicyFunc can be returned by a PolicyCtor like any other policy.
	var ctor PolicyCtor = func(limit uint64) (Policy, error) {
		return PolicyFunc(func(_ UtilizationType, used uint64) uint64 { return limit - used }), nil
	}
	pol, err := ctor(10)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), pol.Evaluate(UtilizationHeap, 3))
}
