package watchdog

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	children["start"] = childStart
	children["start-precedence"] = childStart // watchdog_linux_test.go's name for it
}

type startOutcome struct {
	Driver   string
	Limit    uint64
	Skipped  []string
	Disabled bool
	String   string
	Err      string
	Running  bool // a watchdog runs after Start returned
	Logs     []string

	// Mode "twice" only: the second Start.
	SecondErr         string
	SecondIsStarted   bool // errors.Is(second error, ErrAlreadyStarted)
	SecondSkipped     []string
	StillRunning      bool // the first watchdog runs after the second Start
	SecondStopHarmful bool // the second Start's stop function stopped the first
	// Mode "nosoft" only.
	HeadroomSoftLimit bool
	KernelEvents      bool
	SoftLimit         int64
}

// childStart runs Start with the heap limit variable WATCHDOG_TEST_HEAP_MAX
// (as the parent set it) and reports what happened. WATCHDOG_TEST_START_MODE
// picks the scenario: "" starts once, "twice" starts again while the first
// runs, "nosoft" starts with DisableSoftLimit and DisableKernelEvents.
func childStart() (any, error) {
	log := &recLogger{}
	SetLogger(log)
	mode := os.Getenv("WATCHDOG_TEST_START_MODE")
	opts := Options{HeapLimitEnv: "WATCHDOG_TEST_HEAP_MAX"}
	if mode == "nosoft" {
		opts.DisableSoftLimit, opts.DisableKernelEvents = true, true
	}
	res, stop, err := Start(opts)
	out := startOutcome{Driver: res.Driver, Limit: res.Limit, Skipped: res.Skipped, Disabled: res.Disabled,
		String: res.String(), Running: Snapshot().Running}
	if err != nil {
		out.Err = err.Error()
	}
	switch mode {
	case "twice":
		res2, stop2, err2 := Start(Options{})
		if err2 != nil {
			out.SecondErr = err2.Error()
		}
		out.SecondIsStarted = errors.Is(err2, ErrAlreadyStarted)
		out.SecondSkipped = res2.Skipped
		out.StillRunning = Snapshot().Running
		stop2()
		out.SecondStopHarmful = !Snapshot().Running
	case "nosoft":
		out.HeadroomSoftLimit, out.KernelEvents, out.SoftLimit = HeadroomSoftLimit, KernelEvents, Snapshot().SoftLimit
	}
	stop()
	log.mu.Lock()
	out.Logs = append([]string(nil), log.lines...)
	log.mu.Unlock()
	return out, nil
}

// infoAndAbove drops debug lines.
func infoAndAbove(lines []string) []string {
	var out []string
	for _, l := range lines {
		if len(l) < 6 || l[:6] != "DEBUG " {
			out = append(out, l)
		}
	}
	return out
}

func TestStartPrecedence(t *testing.T) {
	t.Run("heap limit from the environment wins", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start", &out, "WATCHDOG_TEST_HEAP_MAX=512Mi")
		assert.Equal(t, "heap", out.Driver)
		assert.Equal(t, uint64(512<<20), out.Limit)
		assert.Empty(t, out.Skipped)
		assert.Empty(t, out.Err)
	})
	t.Run("no heap limit: cgroup, else system, in one short line", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start", &out)
		assert.Empty(t, out.Err)
		assert.True(t, out.Running)
		assert.Contains(t, []string{"cgroup", "system"}, out.Driver)
		require.NotEmpty(t, out.Skipped)
		assert.Equal(t, "heap: no heap limit configured", out.Skipped[0])
		if out.Driver == "system" {
			assert.Len(t, out.Skipped, 2, "the cgroup driver's failure is reported")
			assert.Regexp(t, `^cgroup: `, out.Skipped[1])
		}
		assert.Greater(t, out.Limit, uint64(0))
		assert.Regexp(t, `^(cgroup|system) watchdog started with limit [0-9.]+ [KMGT]iB \([0-9]+ bytes\); heap: no heap limit configured`, out.String)
		assert.Less(t, len(out.String), 160, "one short line: %s", out.String)
	})
}

func TestStartMalformedHeapLimitStartsNothing(t *testing.T) {
	var out startOutcome
	runChildTest(t, "start", &out, "WATCHDOG_TEST_HEAP_MAX=128mbx")
	assert.Empty(t, out.Driver, "no other driver stands in for the heap limit the operator asked for")
	assert.False(t, out.Running)
	for _, want := range []string{`WATCHDOG_TEST_HEAP_MAX="128mbx"`, `unknown unit "mbx"`, "Ki, Mi, Gi"} {
		assert.Contains(t, out.Err, want)
	}
	logs := infoAndAbove(out.Logs)
	if assert.Len(t, logs, 1, "one line: %q", logs) {
		assert.Regexp(t, `^ERROR no watchdog started: .*WATCHDOG_TEST_HEAP_MAX="128mbx"`, logs[0])
	}
}

func TestStartGOWATCHDOGOff(t *testing.T) {
	for _, v := range []string{"off", "OFF", "false", "0", "no", "disabled"} {
		t.Run(v, func(t *testing.T) {
			var out startOutcome
			runChildTest(t, "start", &out, "GOWATCHDOG="+v, "WATCHDOG_TEST_HEAP_MAX=512MiB")
			assert.True(t, out.Disabled)
			assert.Empty(t, out.Err, "turning it off is the operator's choice, not a failure")
			assert.Empty(t, out.Driver)
			assert.False(t, out.Running)
			assert.Equal(t, "watchdog disabled by GOWATCHDOG="+v, out.String)
			assert.Equal(t, []string{"INFO watchdog disabled by GOWATCHDOG=" + v}, out.Logs)
		})
	}
	t.Run("on", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start", &out, "GOWATCHDOG=on", "WATCHDOG_TEST_HEAP_MAX=512MiB")
		assert.False(t, out.Disabled)
		assert.Equal(t, "heap", out.Driver)
	})
	t.Run("unknown value", func(t *testing.T) {
		var out startOutcome
		runChildTest(t, "start", &out, "GOWATCHDOG=of", "WATCHDOG_TEST_HEAP_MAX=512MiB")
		assert.False(t, out.Disabled)
		assert.Empty(t, out.Driver)
		assert.False(t, out.Running)
		assert.Contains(t, out.Err, `GOWATCHDOG="of" is neither on nor off`)
		assert.Len(t, infoAndAbove(out.Logs), 1)
	})
}

func TestStartWhileRunning(t *testing.T) {
	var out startOutcome
	runChildTest(t, "start", &out, "WATCHDOG_TEST_START_MODE=twice", "WATCHDOG_TEST_HEAP_MAX=256MiB")
	require.Equal(t, "heap", out.Driver)
	assert.True(t, out.SecondIsStarted, "the second Start's error wraps ErrAlreadyStarted: %s", out.SecondErr)
	assert.Contains(t, out.SecondErr, "a heap watchdog with limit 256.0 MiB (268435456 bytes) is already running")
	assert.Equal(t, []string{"a heap watchdog with limit 256.0 MiB (268435456 bytes) is already running"}, out.SecondSkipped)
	assert.True(t, out.StillRunning)
	assert.False(t, out.SecondStopHarmful, "the second Start's stop function does not stop the first watchdog")
	var warns []string
	for _, l := range out.Logs {
		assert.NotContains(t, l, "on its own", "a watchdog is running: saying otherwise is false")
		if len(l) > 5 && l[:5] == "WARN " {
			warns = append(warns, l)
		}
	}
	assert.Equal(t, []string{"WARN Start started nothing: a heap watchdog with limit 256.0 MiB (268435456 bytes) is already running and keeps running"}, warns)
}

func TestStartDisableSoftLimitAndEvents(t *testing.T) {
	var out startOutcome
	runChildTest(t, "start", &out, "WATCHDOG_TEST_START_MODE=nosoft")
	require.Contains(t, []string{"cgroup", "system"}, out.Driver)
	assert.True(t, out.HeadroomSoftLimit, "the package settings are left as they were")
	assert.True(t, out.KernelEvents)
	assert.Zero(t, out.SoftLimit, "the soft limit is not managed")
}
