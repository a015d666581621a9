package watchdog

import (
	"testing"
	"time"
)

// BenchmarkSample is the watchdog's per-poll cost with a free usage source:
// the loop's own work (runtime/metrics read, soft limit, stats) per sample.
func BenchmarkSample(b *testing.B) {
	saved := setMemoryLimit
	defer func() { setMemoryLimit = saved }()
	setMemoryLimit = func(int64) int64 { return 1<<63 - 1 }
	src := newFakeSource(1<<30, 100<<20)
	p, _ := NewWatermarkPolicy(0.5, 0.9)(1 << 30)
	r := newRun("cgroup", UtilizationProcess, src, nil, p, 1<<30, time.Second)
	r.softLimit = true
	r.init()
	b.ReportAllocs()
	for b.Loop() {
		r.sample()
	}
}

// BenchmarkSnapshot is the cost of one scrape of the watchdog's state.
func BenchmarkSnapshot(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Snapshot()
	}
}
