// Package autotest tests package auto from outside: a test binary that
// imported auto would start a watchdog in itself at init. Each test runs
// ./prog, a program that only blank-imports auto, with its own environment.
package autotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	watchdog "github.com/raulk/go-watchdog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var prog string // the built ./prog

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "autotest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	prog = filepath.Join(dir, "prog")
	out, err := exec.Command("go", "build", "-o", prog, "./prog").CombinedOutput()
	code := 1
	if err != nil {
		fmt.Fprintf(os.Stderr, "building ./prog: %v\n%s", err, out)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// runProg runs prog with env added to this environment less its GOWATCHDOG
// variables, and returns its Snapshot and its log lines.
func runProg(t *testing.T, env ...string) (watchdog.Stats, []string) {
	t.Helper()
	cmd := exec.Command(prog)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOWATCHDOG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr:\n%s", stderr.String())
	var s watchdog.Stats
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &s), "stdout: %s", stdout.String())
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return s, lines
}

func TestBlankImportRunsAWatchdog(t *testing.T) {
	s, logs := runProg(t)
	assert.True(t, s.Running, "logs: %q", logs)
	assert.Contains(t, []string{"cgroup", "system"}, s.Driver)
	assert.Greater(t, s.Limit, uint64(0))
	assert.Greater(t, s.SoftLimit, int64(0), "the soft limit is managed by default")
}

// The program exits as soon as main has printed: the start lines were
// written before the blank import's init returned, not by a goroutine that
// may never get to run.
func TestStartLinesWrittenBeforeMain(t *testing.T) {
	for i := 0; i < 5; i++ {
		s, logs := runProg(t)
		require.True(t, s.Running)
		found := false
		for _, l := range logs {
			found = found || strings.Contains(l, "INFO "+s.Driver+" watchdog started")
		}
		assert.True(t, found, "run %d: no start line in %q", i, logs)
	}
}

func TestOffRunsNone(t *testing.T) {
	s, logs := runProg(t, "GOWATCHDOG=off")
	assert.False(t, s.Running)
	assert.Empty(t, s.Driver, "no watchdog ever ran")
	require.Len(t, logs, 1, "one line: %q", logs)
	assert.Contains(t, logs[0], "INFO watchdog disabled by GOWATCHDOG=off")
}

func TestHeapLimitFromTheEnvironment(t *testing.T) {
	s, logs := runProg(t, "GOWATCHDOG_HEAP_LIMIT=512Mi", "GOWATCHDOG_MIN_GOGC=30")
	assert.True(t, s.Running, "logs: %q", logs)
	assert.Equal(t, "heap", s.Driver)
	assert.Equal(t, uint64(512<<20), s.Limit)
}

func TestPolicyAndSoftLimitFromTheEnvironment(t *testing.T) {
	s, logs := runProg(t, "GOWATCHDOG_POLICY=watermarks:0.5,0.9", "GOWATCHDOG_SOFT_LIMIT=off",
		"GOWATCHDOG_EVENTS=off", "GOWATCHDOG_FREQUENCY=200ms")
	require.True(t, s.Running, "logs: %q", logs)
	half, most := uint64(float64(s.Limit)*0.5), uint64(float64(s.Limit)*0.9)
	assert.Contains(t, []uint64{half, most, watchdog.PolicyTempDisabled}, s.Threshold,
		"the threshold is one of the two watermarks (limit %d)", s.Limit)
	assert.Zero(t, s.SoftLimit, "GOWATCHDOG_SOFT_LIMIT=off: the soft limit is not managed")
}

func TestMalformedVariablesStartNothing(t *testing.T) {
	s, logs := runProg(t, "GOWATCHDOG_HEAP_LIMIT=128mbx", "GOWATCHDOG_FREQUENCY=fast", "GOWATCHDOG_HEAPLIMIT=1Gi")
	assert.False(t, s.Running)
	assert.Empty(t, s.Driver, "no other driver stands in for the heap limit asked for")
	require.Len(t, logs, 1, "one line: %q", logs)
	for _, want := range []string{"ERROR no watchdog started", `GOWATCHDOG_HEAP_LIMIT="128mbx"`,
		`GOWATCHDOG_FREQUENCY="fast"`, "GOWATCHDOG_HEAPLIMIT is not a known variable"} {
		assert.Contains(t, logs[0], want)
	}
}

func TestUnknownSwitchValueStartsNothing(t *testing.T) {
	s, logs := runProg(t, "GOWATCHDOG=maybe")
	assert.False(t, s.Running)
	require.Len(t, logs, 1, "one line: %q", logs)
	assert.Contains(t, logs[0], `GOWATCHDOG="maybe" is neither on nor off`)
}
