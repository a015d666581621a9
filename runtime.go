package watchdog

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The runtime knobs the watchdog turns and reads. Tests replace them to run
// the loop against a simulated runtime.
var (
	setGCPercent   = debug.SetGCPercent
	setMemoryLimit = debug.SetMemoryLimit
	readRuntime    = (*runtimeReader).read
	newGCWatcher   = watchGC
)

// runtimeStats are the runtime figures the watchdog uses, in bytes unless
// stated.
type runtimeStats struct {
	GOGC        int    // GOGC in force (percent; -1 when off)
	HeapLive    uint64 // heap marked live by the last GC
	HeapGoal    uint64 // heap size at which the pacer starts the next GC
	HeapObjects uint64 // heap occupied by objects now, live or not yet swept
	Owned       uint64 // memory the runtime maps, less what it has released to the OS
	NonHeap     uint64 // the part of Owned outside heap spans: stacks, GC and runtime metadata
	GCCycles    uint64 // completed GC cycles since the process started
}

// runtimeReader reads runtimeStats with runtime/metrics into samples it
// reuses, so a read does not allocate.
type runtimeReader struct {
	samples []metrics.Sample
	stats   runtimeStats
}

var runtimeMetricNames = []string{
	"/gc/gogc:percent",
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/gc/cycles/total:gc-cycles",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/unused:bytes",
}

func (rr *runtimeReader) read() runtimeStats {
	if rr.samples == nil {
		rr.samples = make([]metrics.Sample, len(runtimeMetricNames))
		for i, n := range runtimeMetricNames {
			rr.samples[i].Name = n
		}
	}
	metrics.Read(rr.samples)
	v := func(i int) uint64 {
		if rr.samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return rr.samples[i].Value.Uint64()
	}
	s := runtimeStats{
		GOGC:        normalizeGOGC(int(int64(v(0)))),
		HeapLive:    v(1),
		HeapGoal:    v(2),
		HeapObjects: v(3),
		GCCycles:    v(6),
	}
	s.Owned = sub(v(4), v(5))
	s.NonHeap = sub(s.Owned, add(s.HeapObjects, add(v(7), v(8))))
	rr.stats = s
	return s
}

// readRuntimeGOGC returns the GOGC in force, -1 when off, without changing it.
func readRuntimeGOGC() int {
	var rr runtimeReader
	return readRuntime(&rr).GOGC
}

// normalizeGOGC maps every negative GOGC (GC off) to -1. runtime/metrics
// reports GOGC as a uint64, so off arrives as the two's complement of -1.
func normalizeGOGC(v int) int {
	if v < 0 {
		return -1
	}
	return v
}

// watchGC reports the end of GC cycles on the returned channel (buffer one,
// coalescing) until stop is called. It plants an object whose finalizer runs
// after each cycle that collects it and plants the next one.
func watchGC() (events <-chan struct{}, stop func()) {
	c := make(chan struct{}, 1)
	done := make(chan struct{})
	type sentinel struct {
		_ *int // pointerful, so never batched by the tiny allocator
		_ [16]byte
	}
	var plant func()
	plant = func() {
		s := &sentinel{}
		runtime.SetFinalizer(s, func(*sentinel) {
			select {
			case <-done:
				return
			default:
			}
			select {
			case c <- struct{}{}:
			default:
			}
			plant()
		})
	}
	plant()
	return c, func() { close(done) }
}
