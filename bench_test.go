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
	soft := int64(1<<63 - 1)
	setMemoryLimit = func(v int64) int64 { // the runtime's contract, without touching it
		old := soft
		if v >= 0 {
			soft = v
		}
		return old
	}
	src := newFakeSource(1<<30, 100<<20)
	p, _ := NewWatermarkPolicy(0.5, 0.9)(1 << 30)
	r := newRun("cgroup", UtilizationProcess, src, nil, p, 1<<30, time.Second, config{softLimit: true})
	r.exec = newInlineExecutor(r.callbackPanicked)
	savedLogger := Logger
	defer func() { SetLogger(savedLogger) }()
	SetLogger(&recLogger{})
	if err := r.init(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.sample()
	}
}

// BenchmarkSnapshot is the cost of one scrape of the watchdog's state.
func BenchmarkSnapshot(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Snapshot()
	}
}
