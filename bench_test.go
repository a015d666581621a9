package watchdog

import (
	"testing"
	"time"
)

// newSampleRun returns a started cgroup run over a free usage source, with
// the soft limit managed against a simulated runtime setting and an inline
// executor, for measuring what one sample costs.
func newSampleRun(tb testing.TB) *run {
	saved := setMemoryLimit
	tb.Cleanup(func() { setMemoryLimit = saved })
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
	savedLogger := currentLogger()
	tb.Cleanup(func() { SetLogger(savedLogger) })
	SetLogger(&recLogger{})
	if err := r.init(); err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkSample is the watchdog's per-poll cost with a free usage source:
// the loop's own work (runtime/metrics read, soft limit, stats) per sample.
func BenchmarkSample(b *testing.B) {
	r := newSampleRun(b)
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
