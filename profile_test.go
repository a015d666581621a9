package watchdog

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the child's TZ, and its offset, without a system zoneinfo

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withLevel returns the recorded lines of one level.
func (l *recLogger) withLevel(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.HasPrefix(s, level+" ") {
			out = append(out, s)
		}
	}
	return out
}

// profTestEnv is the recorded log of one profiler test.
type profTestEnv struct {
	log *recLogger
}

// setupProfTest sets the HeapProfile* settings and Logger for one test, and
// Clock to a mock stopped in 2024, which profile names must not follow, and
// restores them afterwards.
func setupProfTest(t *testing.T, dir string, threshold float64, max uint) *profTestEnv {
	t.Helper()
	savedDir, savedThreshold, savedMax := HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures
	savedClock, savedLogger := Clock, Logger
	t.Cleanup(func() {
		HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures = savedDir, savedThreshold, savedMax
		Clock, Logger = savedClock, savedLogger
	})
	env := &profTestEnv{log: &recLogger{}}
	mock := clock.NewMock()
	mock.Set(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures = dir, threshold, max
	Clock, Logger = mock, env.log
	return env
}

// profileFiles lists the entries of dir, sorted.
func profileFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// addedFile returns the one name in after that is not in before, and fails
// t unless there is exactly one.
func addedFile(t *testing.T, before, after []string) string {
	t.Helper()
	var added []string
	for _, name := range after {
		if !slices.Contains(before, name) {
			added = append(added, name)
		}
	}
	require.Len(t, added, 1, "new files in %q (before: %q)", after, before)
	return added[0]
}

// newProfiler builds a profiler for a run whose log lines reach Logger at
// once.
func newProfiler() *profiler {
	r := &run{driver: "test"}
	r.exec = newInlineExecutor(r.callbackPanicked)
	return r.newProfiler()
}

// requireProfileName fails t unless name is <time>.heap, <time> being a
// time between from and to formatted with time.RFC3339Nano in loc: the
// real time of the capture, in that zone, with its offset.
func requireProfileName(t *testing.T, name string, loc *time.Location, from, to time.Time) {
	t.Helper()
	stamp, ok := strings.CutSuffix(name, ".heap")
	require.True(t, ok, "profile name %q", name)
	when, err := time.Parse(time.RFC3339Nano, stamp)
	require.NoError(t, err, "profile name %q", name)
	assert.Equal(t, when.In(loc).Format(time.RFC3339Nano), stamp,
		"profile name %q: the time in %s, with its offset", name, loc)
	assert.False(t, when.Before(from.Round(0)) || when.After(to.Round(0)),
		"profile name %q: not between %v and %v", name, from, to)
}

// requirePprofFile fails t unless path holds a gzip stream that
// decompresses to a heap profile (its sample types are in the string table).
func requirePprofFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(data), 2, "profile %s", path)
	assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "profile %s: gzip magic", path)
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err, "profile %s", path)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err, "profile %s", path)
	assert.Contains(t, string(raw), "inuse_space", "profile %s: a heap profile", path)
}

func TestProfilerOnePerEpisode(t *testing.T) {
	dir := t.TempDir()
	env := setupProfTest(t, dir, 0.8, 10)
	p := newProfiler()
	require.NotNil(t, p)

	const limit = 1000

	// Below the threshold: nothing.
	p.observe(100, limit)
	p.observe(799, limit)
	assert.Empty(t, profileFiles(t, dir))

	// Crossing: one profile, named after the real time.
	from := time.Now()
	p.observe(800, limit) // exactly at the threshold counts
	to := time.Now()
	first := profileFiles(t, dir)
	require.Len(t, first, 1)
	requireProfileName(t, first[0], time.Local, from, to)
	requirePprofFile(t, filepath.Join(dir, first[0]))

	// Staying above: no more profiles.
	for _, used := range []uint64{850, 999, 1000, 5000} {
		p.observe(used, limit)
	}
	assert.Equal(t, first, profileFiles(t, dir))

	// Dropping below ends the episode; rising again starts a new one.
	p.observe(500, limit)
	assert.Equal(t, first, profileFiles(t, dir))
	from = time.Now()
	p.observe(900, limit)
	to = time.Now()
	second := addedFile(t, first, profileFiles(t, dir))
	requireProfileName(t, second, time.Local, from, to)
	requirePprofFile(t, filepath.Join(dir, second))

	infos := env.log.find("INFO", "heap profile written")
	require.Len(t, infos, 2)
	assert.Contains(t, infos[0], filepath.Join(dir, first[0]))
	assert.Contains(t, infos[1], filepath.Join(dir, second))
	assert.Contains(t, infos[1], "8 captures left")
	assert.Empty(t, env.log.withLevel("WARN"))
}

// TestProfilerNameClash: a capture whose name is taken goes to
// <time>-<n>.heap, and the file that held the name is left alone.
func TestProfilerNameClash(t *testing.T) {
	dir := t.TempDir()
	env := setupProfTest(t, dir, 0.5, 10)
	p := newProfiler()
	require.NotNil(t, p)
	stopped := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.Local)
	p.now = func() time.Time { return stopped }
	base := stopped.Format(time.RFC3339Nano)
	taken := filepath.Join(dir, base+".heap")
	require.NoError(t, os.WriteFile(taken, []byte("not a profile"), 0o644))

	for i := 0; i < 2; i++ {
		p.observe(900, 1000) // a new episode
		p.observe(100, 1000) // its end
	}

	assert.Equal(t, []string{base + "-1.heap", base + "-2.heap", base + ".heap"}, profileFiles(t, dir))
	data, err := os.ReadFile(taken)
	require.NoError(t, err)
	assert.Equal(t, "not a profile", string(data))
	for _, n := range []string{"-1", "-2"} {
		requirePprofFile(t, filepath.Join(dir, base+n+".heap"))
	}
	infos := env.log.find("INFO", "heap profile written")
	require.Len(t, infos, 2)
	assert.Contains(t, infos[0], filepath.Join(dir, base+"-1.heap"))
	assert.Contains(t, infos[1], filepath.Join(dir, base+"-2.heap"))
	assert.Empty(t, env.log.withLevel("WARN"))
}

func TestProfilerMaxCaptures(t *testing.T) {
	for _, max := range []uint{1, 2, 3} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			dir := t.TempDir()
			env := setupProfTest(t, dir, 0.5, max)
			p := newProfiler()
			require.NotNil(t, p)
			for i := 0; i < 6; i++ {
				p.observe(600, 1000) // new episode
				p.observe(100, 1000) // end of episode
			}
			files := profileFiles(t, dir)
			assert.Len(t, files, int(max))
			for _, f := range files {
				assert.True(t, strings.HasSuffix(f, ".heap"), f)
				requirePprofFile(t, filepath.Join(dir, f))
			}
			assert.Len(t, env.log.find("INFO", "heap profile written"), int(max))
			assert.Empty(t, env.log.withLevel("WARN"))
		})
	}
}

func TestProfilerCreatesNestedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	setupProfTest(t, dir, 0.5, 10)
	p := newProfiler()
	require.NotNil(t, p)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, st.IsDir())

	from := time.Now()
	p.observe(900, 1000)
	to := time.Now()
	files := profileFiles(t, dir)
	require.Len(t, files, 1)
	requireProfileName(t, files[0], time.Local, from, to)
	requirePprofFile(t, filepath.Join(dir, files[0]))
}

func TestProfilerUncreatableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regular")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	dir := filepath.Join(file, "profiles")
	env := setupProfTest(t, dir, 0.5, 10)

	p := newProfiler()
	assert.Nil(t, p)
	warns := env.log.withLevel("WARN")
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0], dir)
	// A nil profiler is off and safe to use.
	assert.NotPanics(t, func() { p.observe(900, 1000) })
}

func TestProfilerInvalidSettings(t *testing.T) {
	tests := []struct {
		name      string
		dir       bool
		threshold float64
		max       uint
		wantWarn  string // empty: silently off
	}{
		{"all defaults is off", false, 0, 10, ""},
		{"threshold without dir", false, 0.5, 10, "0.5"},
		{"zero threshold with dir (the dir is for last words)", true, 0, 10, ""},
		{"threshold one", true, 1.0, 10, "HeapProfileThreshold 1 "},
		{"threshold above one", true, 1.5, 10, "1.5"},
		{"negative threshold", true, -0.1, 10, "-0.1"},
		{"NaN threshold", true, math.NaN(), 10, "NaN"},
		{"zero max captures", true, 0.5, 0, "HeapProfileMaxCaptures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := ""
			if tt.dir {
				dir = filepath.Join(t.TempDir(), "profiles")
			}
			env := setupProfTest(t, dir, tt.threshold, tt.max)
			p := newProfiler()
			assert.Nil(t, p)
			warns := env.log.withLevel("WARN")
			if tt.wantWarn == "" {
				assert.Empty(t, warns)
				return
			}
			require.Len(t, warns, 1)
			assert.Contains(t, warns[0], tt.wantWarn)
			if tt.dir {
				_, err := os.Stat(dir)
				assert.True(t, os.IsNotExist(err), "an unusable setting should not create the dir")
			}
		})
	}
}

func TestProfilerZeroLimitIgnored(t *testing.T) {
	dir := t.TempDir()
	setupProfTest(t, dir, 0.5, 10)
	p := newProfiler()
	require.NotNil(t, p)
	p.observe(900, 0)
	assert.Empty(t, profileFiles(t, dir))
}

func TestProfilerWriteFailureDisablesCapture(t *testing.T) {
	tests := []struct {
		name     string
		breakDir func(t *testing.T, dir string)
	}{
		{"dir removed", func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(dir))
		}},
		{"dir replaced by a file", func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.WriteFile(dir, []byte("not a dir"), 0o644))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "profiles")
			env := setupProfTest(t, dir, 0.5, 10)
			p := newProfiler()
			require.NotNil(t, p)

			tt.breakDir(t, dir)
			p.observe(900, 1000)
			warns := env.log.withLevel("WARN")
			require.Len(t, warns, 1)
			assert.Contains(t, warns[0], "disabled")
			assert.Empty(t, env.log.find("INFO", "heap profile written"))

			// Even once the dir is usable again, capture stays off.
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for i := 0; i < 3; i++ {
				p.observe(100, 1000)
				p.observe(900, 1000)
			}
			assert.Empty(t, profileFiles(t, dir))
			assert.Len(t, env.log.withLevel("WARN"), 1, "the failure is logged once")
		})
	}
}

func TestProfilerFailureAfterCapture(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles")
	env := setupProfTest(t, dir, 0.5, 10)
	p := newProfiler()
	require.NotNil(t, p)

	p.observe(900, 1000)
	require.Len(t, profileFiles(t, dir), 1)

	// Swap the dir for a regular file: the next episode fails to write.
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	p.observe(100, 1000)
	p.observe(900, 1000)
	require.Len(t, env.log.withLevel("WARN"), 1)

	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p.observe(100, 1000)
	p.observe(900, 1000)
	assert.Empty(t, profileFiles(t, dir))
}

func init() {
	children["heap-profile"] = childHeapProfile
}

const (
	heapProfDirEnv = "WATCHDOG_TEST_HEAPPROF_DIR"
	// heapProfZone is the child's TZ: an offset no zone shares by accident
	// with UTC or with a whole-hour zone.
	heapProfZone = "Asia/Kathmandu"
	heapProfFunc = "github.com/raulk/go-watchdog.retainEightMiBForHeapProfileTest"
)

var heapProfSink []byte

// retainEightMiBForHeapProfileTest allocates 8 MiB, kept live in
// heapProfSink, under a name no other frame has.
//
//go:noinline
func retainEightMiBForHeapProfileTest() {
	heapProfSink = make([]byte, 8<<20)
}

type heapProfChildResult struct {
	Files    []string
	From, To time.Time // around the capture
	Warnings []string
}

// childHeapProfile records every allocation, retains 8 MiB and has a
// profiler capture one profile into the directory named by heapProfDirEnv.
func childHeapProfile() (any, error) {
	runtime.MemProfileRate = 1
	retainEightMiBForHeapProfileTest()
	// The heap profile is as of the last completed GC cycle.
	runtime.GC()
	runtime.GC()
	rec := &recLogger{}
	SetLogger(rec)
	HeapProfileDir, HeapProfileThreshold = os.Getenv(heapProfDirEnv), 0.5
	p := newProfiler()
	if p == nil {
		return nil, fmt.Errorf("no profiler: %q", rec.lines)
	}
	res := heapProfChildResult{From: time.Now()}
	p.observe(900, 1000)
	res.To = time.Now()
	runtime.KeepAlive(heapProfSink)
	entries, err := os.ReadDir(HeapProfileDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		res.Files = append(res.Files, e.Name())
	}
	res.Warnings = rec.withLevel("WARN")
	return res, nil
}

// TestProfileWrittenByRuntimePprof: in a child whose local zone is
// heapProfZone, a capture is a gzipped heap profile that go tool pprof
// reads, holding the child's 8 MiB allocation, in a file named after the
// time of the capture in that zone.
func TestProfileWrittenByRuntimePprof(t *testing.T) {
	dir := t.TempDir()
	var res heapProfChildResult
	runChildTest(t, "heap-profile", &res, heapProfDirEnv+"="+dir, "TZ="+heapProfZone)
	require.Empty(t, res.Warnings)
	require.Len(t, res.Files, 1)
	path := filepath.Join(dir, res.Files[0])

	t.Run("named in local time", func(t *testing.T) {
		loc, err := time.LoadLocation(heapProfZone) // time/tzdata if the system has none
		require.NoError(t, err)
		requireProfileName(t, res.Files[0], loc, res.From, res.To)
		assert.Contains(t, res.Files[0], "+05:45", "the zone's offset")
	})

	t.Run("gzip", func(t *testing.T) {
		requirePprofFile(t, path)
	})

	t.Run("go tool pprof reads it", func(t *testing.T) {
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); runtime.GOROOT() == "" || err != nil {
			t.Skipf("no go command at %q: cannot run go tool pprof", goCmd)
		}
		cmd := exec.Command(goCmd, "tool", "pprof", "-top", "-sample_index=inuse_space", "-unit=B", path)
		out, err := childOutput(cmd)
		require.NoError(t, err, "%s", out)
		flat := int64(-1)
		for _, line := range strings.Split(string(out), "\n") {
			// flat flat% sum% cum cum% function
			f := strings.Fields(line)
			if len(f) == 6 && f[5] == heapProfFunc {
				flat, err = strconv.ParseInt(strings.TrimSuffix(f[0], "B"), 10, 64)
				require.NoError(t, err, "line %q", line)
			}
		}
		require.NotEqual(t, int64(-1), flat, "%s not in go tool pprof's output:\n%s", heapProfFunc, out)
		// MemProfileRate 1: the allocation, unscaled, and what the runtime
		// allocated inside it (a GC it started), whose frames pprof hides.
		assert.GreaterOrEqual(t, flat, int64(8<<20), "%s", out)
		assert.Less(t, flat, int64(9<<20), "%s", out)
	})
}
