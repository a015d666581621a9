package watchdog

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWatermarkPolicyEvaluate(t *testing.T) {
	const limit = 1000
	ctor := NewWatermarkPolicy(0.5, 0.75, 0.9)
	p, err := ctor(limit)
	require.NoError(t, err)
	require.NotNil(t, p)

	tests := []struct {
		name string
		used uint64
		want uint64
	}{
		{"zero usage returns first threshold", 0, 500},
		{"below first threshold", 100, 500},
		{"just below first threshold", 499, 500},
		{"exactly at first threshold returns the next", 500, 750},
		{"between first and second", 600, 750},
		{"exactly at second threshold returns the next", 750, 900},
		{"just below last threshold", 899, 900},
		{"exactly at last threshold disables", 900, PolicyTempDisabled},
		{"past last threshold disables", 950, PolicyTempDisabled},
		{"at limit disables", limit, PolicyTempDisabled},
		{"above limit disables", 5 * limit, PolicyTempDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The scope does not change the outcome.
			for _, scope := range []UtilizationType{UtilizationSystem, UtilizationProcess, UtilizationHeap} {
				assert.Equal(t, tt.want, p.Evaluate(scope, tt.used), "scope %v", scope)
			}
		})
	}
}

func TestWatermarkPolicyThresholdsAreLimitTimesWatermark(t *testing.T) {
	tests := []struct {
		name       string
		limit      uint64
		watermarks []float64
		want       []uint64
	}{
		{"single full watermark", 4096, []float64{1}, []uint64{4096}},
		{"default-like list", 1 << 30, []float64{0.5, 0.6, 0.7, 0.85, 0.9, 0.925, 0.95}, []uint64{
			536870912, 644245094, 751619276, 912680550, 966367641, 993211187, 1020054732,
		}},
		{"small limit", 10, []float64{0.25, 0.5, 1}, []uint64{2, 5, 10}},
		{"tiny watermark", 1 << 20, []float64{0.001}, []uint64{1048}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewWatermarkPolicy(tt.watermarks...)(tt.limit)
			require.NoError(t, err)
			// Walk the thresholds: from 0, each Evaluate returns the next
			// threshold; feeding it back returns the following one.
			var got []uint64
			used := uint64(0)
			for i := 0; i <= len(tt.watermarks); i++ {
				next := p.Evaluate(UtilizationHeap, used)
				if next == PolicyTempDisabled {
					break
				}
				got = append(got, next)
				used = next
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, PolicyTempDisabled, p.Evaluate(UtilizationHeap, tt.want[len(tt.want)-1]))
		})
	}
}

func TestWatermarkPolicyInvalid(t *testing.T) {
	tests := []struct {
		name       string
		watermarks []float64
		wantInMsg  []string
	}{
		{"empty list", nil, []string{"watermark"}},
		{"empty non-nil list", []float64{}, []string{"watermark"}},
		{"zero", []float64{0}, []string{"watermark 0 "}},
		{"zero after valid", []float64{0.5, 0}, []string{"watermark 0 "}},
		{"negative", []float64{-0.5}, []string{"-0.5"}},
		{"above one", []float64{0.5, 1.5}, []string{"1.5"}},
		{"just above one", []float64{1.0001}, []string{"1.0001"}},
		{"NaN", []float64{math.NaN()}, []string{"NaN"}},
		{"NaN after valid", []float64{0.2, math.NaN()}, []string{"NaN"}},
		{"positive infinity", []float64{math.Inf(1)}, []string{"Inf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewWatermarkPolicy(tt.watermarks...)(1 << 30)
			require.Error(t, err)
			assert.Nil(t, p)
			for _, s := range tt.wantInMsg {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// v1.3.0 accepted watermarks in any order and with repeats, and used them
// as a set; they start the watchdog here too, sorted and de-duplicated, with
// one warning per constructor.
func TestWatermarkPolicyNormalisesOrderAndRepeats(t *testing.T) {
	log := &recLogger{}
	saved := Logger
	SetLogger(log)
	t.Cleanup(func() { SetLogger(saved) })
	for _, tt := range []struct {
		name  string
		given []float64
		want  []float64
	}{
		{"non-ascending", []float64{0.5, 0.9, 0.7}, []float64{0.5, 0.7, 0.9}},
		{"duplicate", []float64{0.5, 0.6, 0.6}, []float64{0.5, 0.6}},
		{"descending pair", []float64{0.9, 0.1}, []float64{0.1, 0.9}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log.lines = nil
			ctor := NewWatermarkPolicy(tt.given...)
			for i := 0; i < 3; i++ {
				p, err := ctor(1000)
				require.NoError(t, err)
				assert.Equal(t, tt.want, p.(*watermarkPolicy).watermarks)
			}
			warns := log.find("WARN", fmt.Sprint(tt.given), fmt.Sprint(tt.want))
			assert.Len(t, warns, 1, "one warning naming what changed, not one per limit: %v", log.lines)
		})
	}
	p, err := NewWatermarkPolicy(0.9, 0.5, 0.9)(1000)
	require.NoError(t, err)
	assert.Equal(t, uint64(500), p.Evaluate(UtilizationSystem, 100))
	assert.Equal(t, uint64(900), p.Evaluate(UtilizationSystem, 500))
	assert.Equal(t, PolicyTempDisabled, p.Evaluate(UtilizationSystem, 900))
}

func TestWatermarkPolicyZeroLimit(t *testing.T) {
	p, err := NewWatermarkPolicy(0.5, 0.9)(0)
	require.Error(t, err)
	assert.Nil(t, p)
	assert.Contains(t, err.Error(), "0")
	assert.Contains(t, err.Error(), "limit")

	// The default policy rejects it too.
	p, err = DefaultPolicy(0)
	require.Error(t, err)
	assert.Nil(t, p)
}

func TestWatermarkPolicyCtorReusable(t *testing.T) {
	ctor := NewWatermarkPolicy(0.5, 0.8)

	small, err := ctor(100)
	require.NoError(t, err)
	big, err := ctor(10_000)
	require.NoError(t, err)
	again, err := ctor(100)
	require.NoError(t, err)

	// Building the second policy must not alter the first one.
	assert.Equal(t, uint64(50), small.Evaluate(UtilizationSystem, 0))
	assert.Equal(t, uint64(80), small.Evaluate(UtilizationSystem, 50))
	assert.Equal(t, PolicyTempDisabled, small.Evaluate(UtilizationSystem, 80))

	assert.Equal(t, uint64(5000), big.Evaluate(UtilizationSystem, 0))
	assert.Equal(t, uint64(8000), big.Evaluate(UtilizationSystem, 5000))
	assert.Equal(t, PolicyTempDisabled, big.Evaluate(UtilizationSystem, 8000))

	assert.Equal(t, small.Evaluate(UtilizationSystem, 10), again.Evaluate(UtilizationSystem, 10))
	assert.Equal(t, small.Evaluate(UtilizationSystem, 60), again.Evaluate(UtilizationSystem, 60))

	// A failing call does not poison later ones.
	_, err = ctor(0)
	require.Error(t, err)
	p, err := ctor(200)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), p.Evaluate(UtilizationSystem, 0))
}

func TestWatermarkPolicyConcurrentCtor(t *testing.T) {
	// The ctor may be called from several watchdogs; run it concurrently so
	// the race detector can flag shared mutable state.
	ctor := NewWatermarkPolicy(0.25, 0.5, 1)
	done := make(chan struct{})
	for i := 1; i <= 8; i++ {
		go func(limit uint64) {
			defer func() { done <- struct{}{} }()
			p, err := ctor(limit)
			if assert.NoError(t, err) {
				assert.Equal(t, limit/4, p.Evaluate(UtilizationHeap, 0))
				assert.Equal(t, limit, p.Evaluate(UtilizationHeap, limit/2))
			}
		}(uint64(i) * 4000)
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

func TestWatermarkPolicyString(t *testing.T) {
	p, err := NewWatermarkPolicy(0.5, 0.9)(1000)
	require.NoError(t, err)
	s, ok := p.(interface{ String() string })
	require.True(t, ok, "watermark policy should describe itself")
	assert.Contains(t, s.String(), "0.5")
	assert.Contains(t, s.String(), "0.9")
}

func TestUtilizationTypePrintsItsNumber(t *testing.T) {
	// As in v1.3.0, which gave the type no String method.
	assert.Equal(t, "2", fmt.Sprintf("%v", UtilizationHeap))
	assert.Equal(t, "0 1", fmt.Sprintf("%v %d", UtilizationSystem, UtilizationProcess))
	for u, want := range map[UtilizationType]string{UtilizationSystem: "system", UtilizationProcess: "process", UtilizationHeap: "heap", 7: "UtilizationType(7)"} {
		assert.Equal(t, want, scopeName(u))
	}
}
