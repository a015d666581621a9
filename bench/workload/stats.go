package main

// The figures the workload reports: GC counters of the whole process, and
// of the measured phase.

import (
	"runtime/metrics"
	"time"

	"golang.org/x/sys/unix"
)

// gcStats reads the GC counters from runtime/metrics. The GC CPU fraction
// leaves out the idle mark workers, which only use CPU time nothing else
// wanted (MemStats.GCCPUFraction does the same); counting them would make a
// mostly idle run look GC-bound.
func gcStats() (gcs, forced uint64, gcCPU, gcIdle, gcFrac float64) {
	c := readGC()
	gcCPU = c.gcCPU - c.gcIdle
	if c.totalCPU > 0 {
		gcFrac = gcCPU / c.totalCPU
	}
	return c.cycles, c.forced, gcCPU, c.gcIdle, gcFrac
}

// gcCounters are the runtime/metrics counters gcStats and the phase use.
type gcCounters struct {
	cycles, forced          uint64
	gcCPU, gcIdle, totalCPU float64 // seconds; gcCPU includes gcIdle
	scavCPU                 float64 // seconds the scavenger spent returning memory to the OS (background and assists)
}

func readGC() gcCounters {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/cycles/forced:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/scavenge/total:cpu-seconds"},
	}
	metrics.Read(s)
	return gcCounters{
		cycles:   s[0].Value.Uint64(),
		forced:   s[1].Value.Uint64(),
		gcCPU:    s[2].Value.Float64(),
		gcIdle:   s[3].Value.Float64(),
		totalCPU: s[4].Value.Float64(),
		scavCPU:  s[5].Value.Float64(),
	}
}

// phaseStats are the figures of the measured phase: the churn, paced or
// not. The GC figures are differences of runtime/metrics counters across
// the phase.
type phaseStats struct {
	WallSeconds    float64 `json:"wall_s"`     // the phase's wall time
	CPUSeconds     float64 `json:"cpu_s"`      // user+system CPU of the whole process during the phase (getrusage), the watchdog's own work included
	GCs            uint64  `json:"gcs"`        // GC cycles completed during the phase
	ForcedGCs      uint64  `json:"forced_gcs"` // of which forced (runtime.GC, debug.FreeOSMemory)
	GCCPUSeconds   float64 `json:"gc_cpu_s"`   // GC CPU without idle mark workers, as the top-level gc_cpu_s
	GCIdleSeconds  float64 `json:"gc_idle_s"`  // idle mark workers
	AllocMiB       float64 `json:"alloc_mib"`  // garbage the phase allocated
	ScavCPUSeconds float64 `json:"scav_cpu_s"` // the runtime's scavenger CPU (/cpu/classes/scavenge/total), an estimate the runtime keeps
}

// phaseStart is the state at the start of the phase.
type phaseStart struct {
	at  time.Time
	cpu time.Duration
	gc  gcCounters
}

func startPhase() phaseStart {
	return phaseStart{at: time.Now(), cpu: processCPU(), gc: readGC()}
}

// end returns the phase's figures; allocated is the bytes it allocated.
func (p phaseStart) end(allocated uint64) phaseStats {
	wall := time.Since(p.at)
	cpu := processCPU() - p.cpu
	gc := readGC()
	return phaseStats{
		WallSeconds:    wall.Seconds(),
		CPUSeconds:     cpu.Seconds(),
		GCs:            gc.cycles - p.gc.cycles,
		ForcedGCs:      gc.forced - p.gc.forced,
		GCCPUSeconds:   (gc.gcCPU - gc.gcIdle) - (p.gc.gcCPU - p.gc.gcIdle),
		GCIdleSeconds:  gc.gcIdle - p.gc.gcIdle,
		AllocMiB:       float64(allocated) / mib,
		ScavCPUSeconds: gc.scavCPU - p.gc.scavCPU,
	}
}

// processCPU is the user+system CPU time of the whole process so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
