package watchdog

// Heap mode against the real runtime, in child processes: GOGC=off at start,
// a GOGC the program changes while the watchdog runs, the start line.

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func init() {
	children["heap-gogc-off"] = childHeapGOGCOff
	children["heap-gogc-adopt"] = childHeapGOGCAdopt
}

type gogcOffResult struct {
	PeakHeap  map[string]uint64 // bytes of heap objects, highest seen
	Restored  map[string]int
	StartLine string
}

// churn allocates total bytes of short-lived garbage in 64 KiB pieces,
// beside the live heap, and returns the highest heap (objects) seen.
func churn(total int) uint64 {
	var peak uint64
	var sink []byte
	for done := 0; done < total; done += 64 << 10 {
		sink = make([]byte, 64<<10)
		sink[0] = 1
		if done%(4<<20) == 0 {
			peak = max(peak, readMetric("/memory/classes/heap/objects:bytes"))
		}
	}
	runtime.KeepAlive(sink)
	return peak
}

func childHeapGOGCOff() (any, error) {
	HeadroomSoftLimit = false
	log := &recLogger{}
	SetLogger(log)
	res := gogcOffResult{PeakHeap: map[string]uint64{}, Restored: map[string]int{}}
	disabled := func(uint64) (Policy, error) {
		return PolicyFunc(func(UtilizationType, uint64) uint64 { return PolicyTempDisabled }), nil
	}
	for name, ctor := range map[string]PolicyCtor{"watermarks": NewWatermarkPolicy(0.5, 0.9), "disabled": disabled} {
		live := allocLive(96)
		debug.SetGCPercent(-1) // the program runs with GOGC=off
		err, stop := HeapDriven(128*mib, 25, ctor)
		if err != nil {
			return nil, err
		}
		res.PeakHeap[name] = churn(2 << 30)
		stop()
		res.Restored[name] = currentGOGC()
		runtime.KeepAlive(live)
		debug.SetGCPercent(100)
		runtime.GC()
	}
	if l := log.find("INFO", "heap watchdog started", "watermark policy"); len(l) > 0 {
		res.StartLine = l[0]
	}
	return res, nil
}

func TestHeapDrivenWithGOGCOffKeepsHeapNearLimit(t *testing.T) {
	var res gogcOffResult
	runChildTest(t, "heap-gogc-off", &res)
	for _, name := range []string{"watermarks", "disabled"} {
		// Bounded, far below the 2 GiB it reaches unwatched: on a busy
		// machine the GC's mark phases stretch, its CPU limiter caps the
		// assists, and what the program allocates meanwhile takes the heap
		// past its goal (up to 290 MiB seen beside two CPU hogs).
		assert.Less(t, res.PeakHeap[name], uint64(512*mib),
			"%s: 96 MiB live and 2 GiB of garbage under a 128 MiB heap limit with GOGC=off (no watchdog: 2 GiB)", name)
		assert.Equal(t, -1, res.Restored[name], "%s: stop restores GOGC=off", name)
	}
	for _, part := range []string{"heap limit 128.0 MiB (134217728 bytes)", "watermark policy: watermarks [0.5 0.9]",
		"thresholds [67108864 120795955] bytes", "GOGC -1 (the program's"} {
		assert.True(t, strings.Contains(res.StartLine, part), "start line %q lacks %q", res.StartLine, part)
	}
}

type gogcAdoptResult struct {
	Before, Reported, After, Restored int
}

func childHeapGOGCAdopt() (any, error) {
	HeadroomSoftLimit = false
	SetLogger(&recLogger{})
	debug.SetGCPercent(100)
	live := allocLive(8)
	err, stop := HeapDriven(1<<30, 25, NewWatermarkPolicy(0.9))
	if err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(live)
	var res gogcAdoptResult
	if err := gcAndWait(1); err != nil {
		stop()
		return nil, err
	}
	res.Before = currentGOGC()
	debug.SetGCPercent(40) // the program's own setting while the watchdog runs
	if err := gcAndWait(2); err != nil {
		stop()
		return nil, err
	}
	res.Reported, res.After = Snapshot().GOGC, currentGOGC()
	stop()
	res.Restored = currentGOGC()
	return res, nil
}

func TestHeapDrivenAdoptsProgramGOGC(t *testing.T) {
	var res gogcAdoptResult
	runChildTest(t, "heap-gogc-adopt", &res)
	assert.Equal(t, 100, res.Before, "far from a 1 GiB limit, GOGC stays the program's 100")
	assert.LessOrEqual(t, res.After, 40, "the program's GOGC 40 is the new ceiling")
	assert.Equal(t, res.After, res.Reported, "Stats.GOGC is what is in force")
	assert.Equal(t, 40, res.Restored, "stop restores the program's latest GOGC, not the one from start")
}
