package watchdog_test

// v1.3.0's own tests that use only the public API, copied from
// github.com/raulk/go-watchdog@v1.3.0's watchdog_test.go,
// adaptive_test.go and watermarks_test.go. The functions are
// v1.3.0's byte for byte; only the package clause, the imports and these
// comments differ. The dot import makes every unqualified name in them this
// package's exported API: they compile only if it exports what they use.
// TestV130PublishedBodies checks them against the published files;
// TestV130PublishedIsolated runs the _Isolated ones, each in its own
// process. What they need besides themselves (limit64MiB, DockerMemLimit,
// watermarks, retained, createMemoryCgroup, ...) is in
// v130_support*_test.go.

//lint:file-ignore SA4010 TestHeapDriven_Isolated (v1.3.0's, verbatim) appends to retained only to allocate.

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	. "github.com/raulk/go-watchdog"
)

func skipIfNotIsolated(t *testing.T) {
	if os.Getenv(EnvTestIsolated) != "1" {
		t.Skipf("skipping test in non-isolated mode")
	}
}

func TestControl_Isolated(t *testing.T) {
	skipIfNotIsolated(t)

	debug.SetGCPercent(100)

	rounds := 100
	if DockerMemLimit != 0 {
		rounds /= int(float64(DockerMemLimit)*0.8) / 1024 / 1024
	}

	// retain 1MiB every iteration.
	var retained [][]byte
	for i := 0; i < rounds; i++ {
		b := make([]byte, 1*1024*1024)
		for i := range b {
			b[i] = byte(i)
		}
		retained = append(retained, b)
	}

	for _, b := range retained {
		for i := range b {
			b[i] = byte(i)
		}
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	require.NotZero(t, ms.NumGC)    // GCs have taken place, but...
	require.Zero(t, ms.NumForcedGC) // ... no forced GCs beyond our initial one.
}

func TestHeapDriven_Isolated(t *testing.T) {
	skipIfNotIsolated(t)

	// we can't mock ReadMemStats, because we're relying on the go runtime to
	// enforce the GC run, and the go runtime won't use our mock. Therefore, we
	// need to do the actual thing.
	debug.SetGCPercent(100)

	clk := clock.NewMock()
	Clock = clk

	observations := make([]*runtime.MemStats, 0, 100)
	NotifyGC = func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		observations = append(observations, &ms)
	}

	// limit is 64MiB.
	err, stopFn := HeapDriven(limit64MiB, 0, NewAdaptivePolicy(0.5))
	require.NoError(t, err)
	defer stopFn()

	time.Sleep(500 * time.Millisecond) // give time for the watchdog to init.

	// retain 1MiB every iteration, up to 100MiB (beyond heap limit!).
	var retained [][]byte
	for i := 0; i < 100; i++ {
		retained = append(retained, make([]byte, 1*1024*1024))
	}

	for _, o := range observations {
		fmt.Println("heap alloc:", o.HeapAlloc, "next gc:", o.NextGC, "gc count:", o.NumGC, "forced gc:", o.NumForcedGC)
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	require.GreaterOrEqual(t, ms.NumGC, uint32(5)) // over 5 GCs should've taken place.
}

func TestAdaptivePolicy(t *testing.T) {
	clk := clock.NewMock()
	Clock = clk

	p, err := NewAdaptivePolicy(0.5)(limit64MiB)
	require.NoError(t, err)

	// at zero; next = 50%.
	next := p.Evaluate(UtilizationSystem, 0)
	require.EqualValues(t, limit64MiB/2, next)

	// at half; next = 75%.
	next = p.Evaluate(UtilizationSystem, limit64MiB/2)
	require.EqualValues(t, 3*(limit64MiB/4), next)

	// at limit.
	next = p.Evaluate(UtilizationSystem, limit64MiB)
	require.EqualValues(t, limit64MiB, next)
}

func TestProgressiveWatermarks(t *testing.T) {
	clk := clock.NewMock()
	Clock = clk

	p, err := NewWatermarkPolicy(watermarks...)(limit64MiB)
	require.NoError(t, err)

	// at zero
	next := p.Evaluate(UtilizationSystem, uint64(0))
	require.EqualValues(t, thresholds[0], next)

	// before the watermark.
	next = p.Evaluate(UtilizationSystem, uint64(float64(limit64MiB)*watermarks[0])-1)
	require.EqualValues(t, thresholds[0], next)

	// exactly at the watermark; gives us the next watermark, as the watchdodg would've
	// taken care of triggering the first watermark.
	next = p.Evaluate(UtilizationSystem, uint64(float64(limit64MiB)*watermarks[0]))
	require.EqualValues(t, thresholds[1], next)

	// after the watermark gives us the next watermark.
	next = p.Evaluate(UtilizationSystem, uint64(float64(limit64MiB)*watermarks[0])+1)
	require.EqualValues(t, thresholds[1], next)

	// last watermark; disable the policy.
	next = p.Evaluate(UtilizationSystem, uint64(float64(limit64MiB)*watermarks[2]))
	require.EqualValues(t, PolicyTempDisabled, next)

	next = p.Evaluate(UtilizationSystem, uint64(float64(limit64MiB)*watermarks[2]+1))
	require.EqualValues(t, PolicyTempDisabled, next)

	next = p.Evaluate(UtilizationSystem, limit64MiB)
	require.EqualValues(t, PolicyTempDisabled, next)
}
