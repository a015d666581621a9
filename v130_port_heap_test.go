package watchdog

// v1.3.0's heap-mode tests, for what its verbatim TestHeapDriven_Isolated
// does not check (the minGOGC 0 warning, where GOGC ends), and its
// TestHeapdumpCapture, which mocked the system memory reader. Each runs in a
// re-executed child process, so it sees only its own GOGC and GC counts.
// (TestControl_Isolated runs verbatim.)

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["v130-heap-driven"] = childV130HeapDriven
	children["v130-heapdump"] = childV130Heapdump
}

type v130HeapDriven struct {
	StartErr   string
	Warnings   []string
	GCs        uint32 // runtime GCs while the watchdog ran
	Notified   int    // NotifyGC calls
	Driver     string
	Limit      uint64
	GOGC       int64 // in force with 100 MiB live, past the 64 MiB limit
	Restored   int64 // after stop
	LastUsage  uint64
	RunningEnd bool
}

// childV130HeapDriven starts HeapDriven(64 MiB, 0, adaptive 0.5) with a mock
// clock, as v1.3.0 did, and retains 100 MiB, past the limit.
func childV130HeapDriven() (any, error) {
	debug.SetGCPercent(100)
	Clock = newV130Clock()
	rec := &recLogger{}
	SetLogger(rec)
	var notified atomic.Int64
	NotifyGC = func() { notified.Add(1) }
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var res v130HeapDriven
	err, stop := HeapDriven(v130Limit, 0, NewAdaptivePolicy(0.5))
	if err != nil {
		res.StartErr = err.Error()
		return res, nil
	}
	// Retain 1 MiB per round, up to 100 MiB: past the heap limit.
	retained := allocLive(100)
	// One more GC, handled by the watchdog, so the GOGC read below is its
	// answer to the full 100 MiB.
	if err := gcUntil("the watchdog to see 100 MiB live", func() bool { return Snapshot().Usage >= 100*mib }); err != nil {
		stop()
		return nil, err
	}
	s := Snapshot()
	res.Driver, res.Limit, res.LastUsage = s.Driver, s.Limit, s.Usage
	res.GOGC = int64(readMetric("/gc/gogc:percent"))
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.GCs = after.NumGC - before.NumGC
	stop() // and the log lines are written
	res.Warnings = rec.withLevel("WARN")
	res.Restored = int64(readMetric("/gc/gogc:percent"))
	res.Notified = int(notified.Load())
	res.RunningEnd = Snapshot().Running
	runtime.KeepAlive(retained)
	return res, nil
}

// TestV130HeapDriven is v1.3.0's TestHeapDriven seen from inside: minGOGC
// 0 is no floor, as in v1.3.0, with a warning that 25 would bound the GC's
// cost; retaining 100 MiB under a 64 MiB limit takes many GCs (all the
// verbatim test checks), GOGC ends at 0 and stop restores it.
func TestV130HeapDriven(t *testing.T) {
	var res v130HeapDriven
	runChildTest(t, "v130-heap-driven", &res)
	require.Empty(t, res.StartErr, "HeapDriven(64 MiB, 0, NewAdaptivePolicy(0.5)) must start, as with v1.3.0")
	var named bool
	for _, w := range res.Warnings {
		named = named || strings.Contains(w, "minGOGC 0 is no floor") && strings.Contains(w, "25")
	}
	assert.True(t, named, "a warning says minGOGC 0 is no floor and 25 bounds the cost: %q", res.Warnings)
	assert.Equal(t, "heap", res.Driver)
	assert.Equal(t, v130Limit, res.Limit)
	assert.GreaterOrEqual(t, res.GCs, uint32(5), "over 5 GCs should have taken place")
	assert.GreaterOrEqual(t, res.Notified, 1, "NotifyGC was called")
	assert.GreaterOrEqual(t, res.LastUsage, uint64(100*mib))
	assert.Equal(t, int64(0), res.GOGC, "past the limit GOGC sits at the floor of 0, as in v1.3.0")
	assert.Equal(t, int64(100), res.Restored, "stop restores GOGC")
	assert.False(t, res.RunningEnd)
}

type v130Heapdump struct {
	StartErr string
	Steps    []v130DumpStep
	Warnings []string
}

type v130DumpStep struct {
	Name  string
	Files int
}

// childV130Heapdump runs HeapDriven with heap profiles at 50% of 64 MiB, at
// most 5, and a mock clock that never moves (profile names follow the real
// time, not Clock). It moves the live heap across 50% with GCs, one episode
// at a time, and counts the profiles after each step.
func childV130Heapdump() (any, error) {
	dir := os.Getenv("WATCHDOG_V130_DUMP_DIR")
	HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures = dir, 0.5, 5
	Clock = newV130Clock() // never advanced
	rec := &recLogger{}
	SetLogger(rec)
	var res v130Heapdump
	err, stop := HeapDriven(v130Limit, 25, NewAdaptivePolicy(0.5))
	if err != nil {
		res.StartErr = err.Error()
		return res, nil
	}
	defer stop()
	var hold [][]byte
	// gc runs a GC and waits until the watchdog has measured the live heap
	// on the expected side of 50%.
	gc := func(above bool) error {
		return gcUntil(fmt.Sprintf("the watchdog to see the live heap above 50%%: %v", above), func() bool {
			return (Snapshot().Usage >= v130Limit/2) == above
		})
	}
	step := func(name string) {
		entries, _ := os.ReadDir(dir)
		res.Steps = append(res.Steps, v130DumpStep{name, len(entries)})
	}
	for _, s := range []struct {
		name    string
		liveMiB int // 0 drops what is held
		above   bool
	}{
		{"first GC, small heap", 0, false},
		{"40 MiB live: over 50%", 40, true},
		{"41 MiB live: same episode", 1, true},
		{"heap dropped: episode over", 0, false},
		{"40 MiB live again: new episode", 40, true},
	} {
		if s.liveMiB == 0 {
			hold = nil
		} else {
			hold = append(hold, allocLive(s.liveMiB)...)
		}
		if err := gc(s.above); err != nil {
			return nil, err
		}
		step(s.name)
	}
	for i := 0; i < 20; i++ {
		hold = nil
		if err := gc(false); err != nil {
			return nil, err
		}
		hold = allocLive(40)
		if err := gc(true); err != nil {
			return nil, err
		}
	}
	step("20 more episodes")
	runtime.KeepAlive(hold)
	stop() // and the log lines are written
	res.Warnings = rec.withLevel("WARN")
	return res, nil
}

// TestV130HeapdumpCapture is v1.3.0's TestHeapdumpCapture, through the heap
// driver (whose usage a test can move): one profile per episode above the
// threshold, at most HeapProfileMaxCaptures, each a gzipped heap profile.
func TestV130HeapdumpCapture(t *testing.T) {
	dir := t.TempDir()
	var res v130Heapdump
	runChildTest(t, "v130-heapdump", &res, "WATCHDOG_V130_DUMP_DIR="+dir)
	require.Empty(t, res.StartErr)
	assert.Equal(t, []v130DumpStep{
		{"first GC, small heap", 0},
		{"40 MiB live: over 50%", 1},
		{"41 MiB live: same episode", 1},
		{"heap dropped: episode over", 1},
		{"40 MiB live again: new episode", 2},
		{"20 more episodes", 5},
	}, res.Steps)
	assert.Empty(t, res.Warnings, "no capture failed or was skipped")

	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.Len(t, files, 5, "only HeapProfileMaxCaptures profiles")
	for _, f := range files {
		requirePprofFile(t, f)
	}
}
