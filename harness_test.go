package watchdog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// fakeSource is a scripted source.Source (and source.Notifier) for loop tests.
type fakeSource struct {
	mu          sync.Mutex
	usage       uint64
	limit       uint64
	reclaimable uint64
	usageErr    error
	limitErr    error
	usagePanic  bool
	usageCalls  int
	reclaimCall int
	armed       []uint64
	closed      int
	events      chan struct{}
}

func newFakeSource(limit, usage uint64) *fakeSource {
	return &fakeSource{limit: limit, usage: usage, events: make(chan struct{}, 1)}
}

func (f *fakeSource) String() string { return "fake" }

func (f *fakeSource) Limit() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limit, f.limitErr
}

func (f *fakeSource) Usage() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usageCalls++
	if f.usagePanic {
		panic("usage source exploded")
	}
	return f.usage, f.usageErr
}

func (f *fakeSource) Reclaimable() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reclaimCall++
	return f.reclaimable, nil
}

func (f *fakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

func (f *fakeSource) Arm(bytes uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = append(f.armed, bytes)
	return nil
}

func (f *fakeSource) Events() <-chan struct{} { return f.events }

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// recLogger records log lines as "LEVEL message".
type recLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLogger) add(level, tmpl string, args []interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(tmpl, args...))
}
func (l *recLogger) Debugf(t string, a ...interface{}) { l.add("DEBUG", t, a) }
func (l *recLogger) Infof(t string, a ...interface{})  { l.add("INFO", t, a) }
func (l *recLogger) Warnf(t string, a ...interface{})  { l.add("WARN", t, a) }
func (l *recLogger) Errorf(t string, a ...interface{}) { l.add("ERROR", t, a) }

// find returns the lines containing all of parts.
func (l *recLogger) find(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// harness runs the loop against a fake source, a mock clock, a fake GC
// watcher and a simulated runtime. Waits on channels, never on wall time.
type harness struct {
	t      *testing.T
	clock  *clock.Mock
	src    *fakeSource
	log    *recLogger
	waits  chan time.Duration
	gc     chan struct{}
	rt     runtimeStats
	rtMu   sync.Mutex
	limits []int64 // every SetMemoryLimit argument except reads (-1)
	gogcs  []int   // every SetGCPercent argument
	forced int
	// afterForcedGC, if set, runs inside the fake ForcedGCFunc.
	afterForcedGC func()
	stop          func()
}

const testTimeout = 10 * time.Second // a failure bound, never waited out on success

func newHarness(t *testing.T, limit, usage uint64) *harness {
	h := &harness{
		t:     t,
		clock: clock.NewMock(),
		src:   newFakeSource(limit, usage),
		log:   &recLogger{},
		waits: make(chan time.Duration, 1000),
		gc:    make(chan struct{}, 1),
		rt:    runtimeStats{GOGC: 100, Owned: 0},
	}
	h.clock.Set(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	saved := struct {
		clock          clock.Clock
		logger         logger
		forced         func()
		setGCPercent   func(int) int
		setMemoryLimit func(int64) int64
		readRuntime    func(*runtimeReader) runtimeStats
		newGCWatcher   func() (<-chan struct{}, func())
		soft, events   bool
	}{Clock, Logger, ForcedGCFunc, setGCPercent, setMemoryLimit, readRuntime, newGCWatcher, HeadroomSoftLimit, KernelEvents}
	userLimit := int64(1<<63 - 1)
	Clock = h.clock
	SetLogger(h.log)
	savedGap := sampleGap
	sampleGap = 0
	testHookWait = func(d time.Duration) { h.waits <- d }
	ForcedGCFunc = func() {
		h.forced++
		if h.afterForcedGC != nil {
			h.afterForcedGC()
		}
	}
	setGCPercent = func(v int) int {
		h.rtMu.Lock()
		defer h.rtMu.Unlock()
		old := h.rt.GOGC
		h.rt.GOGC = v
		h.gogcs = append(h.gogcs, v)
		return old
	}
	setMemoryLimit = func(v int64) int64 {
		h.rtMu.Lock()
		defer h.rtMu.Unlock()
		old := userLimit
		if v >= 0 {
			userLimit = v
			h.limits = append(h.limits, v)
		}
		return old
	}
	readRuntime = func(*runtimeReader) runtimeStats {
		h.rtMu.Lock()
		defer h.rtMu.Unlock()
		return h.rt
	}
	newGCWatcher = func() (<-chan struct{}, func()) { return h.gc, func() {} }
	t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
		}
		Clock, ForcedGCFunc = saved.clock, saved.forced
		SetLogger(saved.logger)
		setGCPercent, setMemoryLimit, readRuntime = saved.setGCPercent, saved.setMemoryLimit, saved.readRuntime
		newGCWatcher, HeadroomSoftLimit, KernelEvents = saved.newGCWatcher, saved.soft, saved.events
		testHookWait = nil
		sampleGap = savedGap
	})
	return h
}

// start starts a polled watchdog over the fake source.
func (h *harness) start(ctor PolicyCtor, freq time.Duration) {
	h.t.Helper()
	err, stop := startPolled(currentConfig(), "cgroup", UtilizationProcess, h.src, ctor, h.src.limit, freq, true)
	require.NoError(h.t, err)
	h.stop = stop
}

// wait returns the interval of the loop's next wait: the loop has finished
// handling whatever came before.
func (h *harness) wait() time.Duration {
	h.t.Helper()
	select {
	case d := <-h.waits:
		singleton.mu.Lock()
		r := singleton.cur
		singleton.mu.Unlock()
		if r != nil {
			r.exec.flush() // the log lines of what came before have reached Logger
		}
		return d
	case <-time.After(testTimeout):
		h.t.Fatal("the watchdog loop did not come back to wait")
		return 0
	}
}

// tick advances the mock clock by d (the interval the loop waits for) and
// returns the next wait interval, after the sample is handled.
func (h *harness) tick(d time.Duration) time.Duration {
	h.clock.Add(d)
	return h.wait()
}

// gcEnded simulates the end of a runtime GC cycle: the cycle count moves
// on, then the GC watcher reports it.
func (h *harness) gcEnded() time.Duration {
	h.setRuntime(func(s *runtimeStats) { s.GCCycles++ })
	h.gc <- struct{}{}
	return h.wait()
}

// gcNotified delivers a GC notification without a new cycle: the late
// notification of a cycle the loop has already counted.
func (h *harness) gcNotified() time.Duration {
	h.gc <- struct{}{}
	return h.wait()
}

func (h *harness) setRuntime(fn func(*runtimeStats)) {
	h.rtMu.Lock()
	defer h.rtMu.Unlock()
	fn(&h.rt)
}

func (h *harness) softLimits() []int64 {
	h.rtMu.Lock()
	defer h.rtMu.Unlock()
	return append([]int64(nil), h.limits...)
}

var errBoom = errors.New("boom")
