package watchdog

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["last-words"] = childLastWords
}

func TestNextPressureHasHysteresis(t *testing.T) {
	steps := []struct {
		share  float64
		beyond bool
		want   Pressure
	}{
		{0.50, false, PressureNone},
		{0.79, false, PressureNone},
		{0.80, false, PressureModerate},
		{0.76, false, PressureModerate}, // under 80%, not under 75%: stays
		{0.74, false, PressureNone},
		{0.91, false, PressureCritical},
		{0.86, false, PressureCritical}, // under 90%, not under 85%: stays
		{0.84, false, PressureModerate},
		{0.30, true, PressureCritical}, // GC cannot make room
		{0.30, false, PressureNone},
	}
	level := PressureNone
	for i, s := range steps {
		level = nextPressure(level, s.share, s.beyond)
		assert.Equal(t, s.want, level, "step %d: share %v beyond %v", i, s.share, s.beyond)
	}
	assert.Equal(t, "none moderate critical Pressure(7)", PressureNone.String()+" "+PressureModerate.String()+" "+PressureCritical.String()+" "+Pressure(7).String())
}

// Pressure follows the retained share of a run, is in Snapshot and in the
// events, and a change is reported once.
func TestPressureLevelsInSnapshotAndEvents(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	events, cancel := Subscribe(16)
	defer cancel()
	h.start(NewWatermarkPolicy(0.95), time.Second)
	d := h.wait()
	levelAt := func(usage uint64) Pressure {
		h.src.set(func(f *fakeSource) { f.usage = usage })
		d = h.tick(d)
		return Snapshot().Pressure
	}
	assert.Equal(t, PressureNone, levelAt(50*mib))
	assert.Equal(t, PressureModerate, levelAt(82*mib))
	assert.Equal(t, PressureModerate, levelAt(80*mib))
	assert.Equal(t, PressureCritical, levelAt(92*mib))
	assert.Equal(t, PressureNone, levelAt(40*mib))
	var changes [][2]Pressure
	for len(events) > 0 {
		if ev := <-events; ev.Kind == EventPressureChanged {
			changes = append(changes, [2]Pressure{ev.OldPressure, ev.Pressure})
			assert.Equal(t, uint64(100*mib), ev.Limit)
		}
	}
	assert.Equal(t, [][2]Pressure{{PressureNone, PressureModerate}, {PressureModerate, PressureCritical}, {PressureCritical, PressureNone}}, changes)
	assert.Equal(t, uint64(3), Snapshot().PressureChanges)
}

type lastWordsResult struct {
	Files []string
	Lines []string
}

// childLastWords runs a heap watchdog whose live heap reaches 95% of its
// limit twice, and reports the files in HeapProfileDir.
func childLastWords() (any, error) {
	rec := &recLogger{}
	SetLogger(rec)
	HeapProfileDir = os.Getenv("WATCHDOG_TEST_DIR")
	err, stop := HeapDriven(64*mib, 25, NewWatermarkPolicy(0.5, 0.9))
	if err != nil {
		return nil, err
	}
	var res lastWordsResult
	for round := 0; round < 2; round++ {
		live := allocLive(61)
		if err := gcAndWait(2); err != nil {
			stop()
			return nil, err
		}
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(rec.find("heap profile in")) <= round-1; {
			time.Sleep(10 * time.Millisecond)
		}
		runtime.KeepAlive(live)
		live = nil
		if err := gcAndWait(2); err != nil {
			stop()
			return nil, err
		}
	}
	// The writer runs on a goroutine of its own: wait for its line.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(rec.find("heap profile in")) == 0; {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	entries, err := os.ReadDir(HeapProfileDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		res.Files = append(res.Files, e.Name())
	}
	res.Lines = rec.find("memory pressure")
	return res, nil
}

// The first critical level of a run writes a heap profile and a goroutine
// dump, once, says where in one line, and go tool pprof reads the profile.
func TestLastWordsWrittenOnceAtCritical(t *testing.T) {
	dir := t.TempDir()
	var res lastWordsResult
	runChildTest(t, "last-words", &res, "WATCHDOG_TEST_DIR="+dir)
	require.Len(t, res.Files, 2, "one heap profile and one goroutine dump: %q", res.Files)
	var heap, stacks string
	for _, f := range res.Files {
		switch {
		case strings.HasSuffix(f, "-critical.heap"):
			heap = filepath.Join(dir, f)
		case strings.HasSuffix(f, "-critical.goroutines"):
			stacks = filepath.Join(dir, f)
		}
	}
	require.NotEmpty(t, heap, "%q", res.Files)
	require.NotEmpty(t, stacks, "%q", res.Files)
	requirePprofFile(t, heap)
	b, err := os.ReadFile(stacks)
	require.NoError(t, err)
	assert.Contains(t, string(b), "goroutine ")
	assert.Contains(t, string(b), "childLastWords")
	n := 0
	for _, l := range res.Lines {
		if strings.Contains(l, "heap profile in "+heap) && strings.Contains(l, "goroutine dump in "+stacks) {
			n++
		}
	}
	assert.Equal(t, 1, n, "one line says where: %q", res.Lines)

	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		t.Skipf("no go command at %q: cannot run go tool pprof", goCmd)
	}
	out, err := childOutput(exec.Command(goCmd, "tool", "pprof", "-top", heap))
	require.NoError(t, err, "%s", out)
	// What it holds depends on how many GCs have published the sampled
	// allocations: the profile's type is what go tool pprof must read.
	assert.Contains(t, string(out), "Type: inuse_space")
}
