package watchdog

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clearWatchdogEnv unsets every GOWATCHDOG variable for the test.
func clearWatchdogEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "GOWATCHDOG") {
			t.Setenv(name, "") // restores the old value after the test
			require.NoError(t, os.Unsetenv(name))
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	clearWatchdogEnv(t)
	opts, err := OptionsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, Options{}, opts, "nothing set: the zero Options, Start's defaults")

	t.Setenv("GOWATCHDOG_HEAP_LIMIT", "2Gi")
	t.Setenv("GOWATCHDOG_SYSTEM_LIMIT", " 8GB ")
	t.Setenv("GOWATCHDOG_MIN_GOGC", "40")
	t.Setenv("GOWATCHDOG_FREQUENCY", "250ms")
	t.Setenv("GOWATCHDOG_POLICY", "adaptive:0.25")
	t.Setenv("GOWATCHDOG_SOFT_LIMIT", "off")
	t.Setenv("GOWATCHDOG_EVENTS", "Off")
	t.Setenv("GOWATCHDOG", "on") // read by Start, not here
	opts, err = OptionsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, uint64(2<<30), opts.HeapLimit)
	assert.Equal(t, uint64(8e9), opts.SystemLimit)
	assert.Equal(t, 40, opts.MinGOGC)
	assert.Equal(t, 250*time.Millisecond, opts.Frequency)
	assert.True(t, opts.DisableSoftLimit)
	assert.True(t, opts.DisableKernelEvents)
	require.NotNil(t, opts.Policy)
	p, err := opts.Policy(1000)
	require.NoError(t, err)
	assert.Equal(t, uint64(250), p.Evaluate(UtilizationHeap, 0), "adaptive 0.25 of the headroom")

	t.Setenv("GOWATCHDOG_SOFT_LIMIT", "on")
	t.Setenv("GOWATCHDOG_EVENTS", "")
	opts, err = OptionsFromEnv()
	require.NoError(t, err)
	assert.False(t, opts.DisableSoftLimit)
	assert.False(t, opts.DisableKernelEvents)
}

func TestOptionsFromEnvReportsEveryProblem(t *testing.T) {
	clearWatchdogEnv(t)
	t.Setenv("GOWATCHDOG_HEAP_LIMIT", "128mbx")
	t.Setenv("GOWATCHDOG_MIN_GOGC", "0")
	t.Setenv("GOWATCHDOG_FREQUENCY", "1")
	t.Setenv("GOWATCHDOG_POLICY", "watermarks:0.9,0.5")
	t.Setenv("GOWATCHDOG_SOFT_LIMIT", "maybe")
	t.Setenv("GOWATCHDOG_HEAPLIMIT", "1Gi")
	t.Setenv("GOWATCHDOG_SYSTEM_LIMIT", "4Gi")
	opts, err := OptionsFromEnv()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, "\n", "one line")
	for _, want := range []string{
		`GOWATCHDOG_HEAP_LIMIT="128mbx": size "128mbx" has an unknown unit "mbx"`,
		`GOWATCHDOG_MIN_GOGC="0": it must be a positive integer`,
		`GOWATCHDOG_FREQUENCY="1": it must be a positive duration`,
		`GOWATCHDOG_POLICY="watermarks:0.9,0.5": policy "watermarks:0.9,0.5": watermark 0.5 is not above 0.9; write them in ascending order`,
		`GOWATCHDOG_SOFT_LIMIT="maybe": it must be on or off`,
		"GOWATCHDOG_HEAPLIMIT is not a known variable; known: GOWATCHDOG_EVENTS, GOWATCHDOG_FREQUENCY, GOWATCHDOG_HEAP_LIMIT,",
	} {
		assert.Contains(t, msg, want)
	}
	assert.Equal(t, uint64(4<<30), opts.SystemLimit, "the variables that parsed are returned")
	assert.Zero(t, opts.HeapLimit)
}

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in         string
		used, want uint64 // limit 1000
	}{
		{"watermarks:0.5,0.9", 600, 900},
		{" Watermarks: 0.5 , 0.9 ", 100, 500},
		{"watermarks:1", 999, 1000},
		{"adaptive:0.5", 200, 600},
		{"ADAPTIVE:1", 200, 1000},
		{"default", 520, 600},
	} {
		ctor, err := ParsePolicy(tt.in)
		require.NoError(t, err, tt.in)
		p, err := ctor(1000)
		require.NoError(t, err)
		assert.Equal(t, tt.want, p.Evaluate(UtilizationSystem, tt.used), tt.in)
	}
	for _, tt := range []struct{ in, want string }{
		{"", `policy "": write watermarks:`},
		{"watermarks", `policy "watermarks": write watermarks:`},
		{"watermarks:", `policy "watermarks:": write watermarks:`},
		{"watermarks:0.5,,0.9", `policy "watermarks:0.5,,0.9": "" is not a number`},
		{"watermarks:0.5,x", `"x" is not a number`},
		{"watermarks:0.5,1.5", "watermark 1.5 (position 1) is outside (0, 1]"},
		{"watermarks:0.5,0.5", "watermark 0.5 is not above 0.5"},
		{"watermarks:0.5,NaN", "watermark NaN is not above 0.5"},
		{"adaptive:0", "adaptive factor 0 is outside (0, 1]"},
		{"adaptive:NaN", "adaptive factor NaN is outside (0, 1]"},
		{"adaptive:0.2,0.3", `policy "adaptive:0.2,0.3": write`},
		{"default:0.5", `policy "default:0.5": write`},
		{"gogc:50", `policy "gogc:50": write`},
	} {
		ctor, err := ParsePolicy(tt.in)
		assert.Nil(t, ctor, tt.in)
		if assert.Error(t, err, tt.in) {
			assert.Contains(t, err.Error(), tt.want)
		}
	}
}
