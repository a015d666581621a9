package watchdog

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

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

// profTestEnv sets the HeapProfile* settings, Clock and Logger for one test
// and restores them afterwards.
type profTestEnv struct {
	log   *recLogger
	clock *clock.Mock
}

func setupProfTest(t *testing.T, dir string, threshold float64, max uint) *profTestEnv {
	t.Helper()
	savedDir, savedThreshold, savedMax := HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures
	savedClock, savedLogger := Clock, Logger
	t.Cleanup(func() {
		HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures = savedDir, savedThreshold, savedMax
		Clock, Logger = savedClock, savedLogger
	})
	env := &profTestEnv{log: &recLogger{}, clock: clock.NewMock()}
	env.clock.Set(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	HeapProfileDir, HeapProfileThreshold, HeapProfileMaxCaptures = dir, threshold, max
	Clock, Logger = env.clock, env.log
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

// newProfiler builds a profiler for a run whose log lines reach Logger at
// once.
func newProfiler() *profiler {
	r := &run{driver: "test"}
	r.exec = newInlineExecutor(r.callbackPanicked)
	return r.newProfiler()
}

func profileName(c clock.Clock) string {
	return c.Now().UTC().Format(time.RFC3339Nano) + ".heap"
}

// requirePprofFile fails t unless path holds a valid heap profile in
// pprof's (uncompressed) protobuf format.
func requirePprofFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, data, "profile %s is empty", path)
	p := decodeHeapProfile(t, data)
	assert.Equal(t, int64(runtime.MemProfileRate), p.period, "profile %s", path)
}

func TestProfilerOnePerEpisode(t *testing.T) {
	dir := t.TempDir()
	env := setupProfTest(t, dir, 0.8, 10)
	p := newProfiler()
	require.NotNil(t, p)

	const limit = 1000
	var want []string

	// Below the threshold: nothing.
	p.observe(100, limit)
	p.observe(799, limit)
	assert.Empty(t, profileFiles(t, dir))

	// Crossing: one profile, named after Clock.
	want = append(want, profileName(env.clock))
	p.observe(800, limit) // exactly at the threshold counts
	assert.Equal(t, want, profileFiles(t, dir))
	requirePprofFile(t, filepath.Join(dir, want[0]))
	assert.Equal(t, "2024-05-06T07:08:09.123456789Z.heap", want[0])

	// Staying above: no more profiles, even as time passes.
	for _, used := range []uint64{850, 999, 1000, 5000} {
		env.clock.Add(time.Second)
		p.observe(used, limit)
	}
	assert.Equal(t, want, profileFiles(t, dir))

	// Dropping below ends the episode; rising again starts a new one.
	env.clock.Add(time.Second)
	p.observe(500, limit)
	assert.Equal(t, want, profileFiles(t, dir))
	env.clock.Add(time.Minute)
	want = append(want, profileName(env.clock))
	p.observe(900, limit)
	assert.Equal(t, want, profileFiles(t, dir))
	requirePprofFile(t, filepath.Join(dir, want[1]))

	infos := env.log.find("INFO", "heap profile written")
	require.Len(t, infos, 2)
	assert.Contains(t, infos[0], filepath.Join(dir, want[0]))
	assert.Contains(t, infos[1], filepath.Join(dir, want[1]))
	assert.Contains(t, infos[1], "8 captures left")
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
				env.clock.Add(time.Second)
				p.observe(600, 1000) // new episode
				env.clock.Add(time.Second)
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
	env := setupProfTest(t, dir, 0.5, 10)
	p := newProfiler()
	require.NotNil(t, p)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, st.IsDir())

	p.observe(900, 1000)
	files := profileFiles(t, dir)
	require.Equal(t, []string{profileName(env.clock)}, files)
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
		{"zero threshold with dir", true, 0, 10, "HeapProfileThreshold 0 "},
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
				env.clock.Add(time.Second)
				p.observe(100, 1000)
				env.clock.Add(time.Second)
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
	env.clock.Add(time.Second)
	p.observe(100, 1000)
	p.observe(900, 1000)
	require.Len(t, env.log.withLevel("WARN"), 1)

	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	env.clock.Add(time.Second)
	p.observe(100, 1000)
	p.observe(900, 1000)
	assert.Empty(t, profileFiles(t, dir))
}
