package watchdog

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Compile-time checks: both loggers fit the package variable.
var (
	_ logger = (*SlogLogger)(nil)
	_ logger = (*stdlog)(nil)
)

func TestLoggerVarAcceptsSlogLogger(t *testing.T) {
	saved := Logger
	t.Cleanup(func() { Logger = saved })
	Logger = NewSlogLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	_, ok := Logger.(*SlogLogger)
	assert.True(t, ok)
}

// swapStdLog points the standard log package at a buffer for the duration of
// the test and restores its writer, flags and prefix afterwards.
func swapStdLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	w, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
	t.Cleanup(func() {
		log.SetOutput(w)
		log.SetFlags(flags)
		log.SetPrefix(prefix)
	})
	var buf bytes.Buffer
	log.SetOutput(&buf)
	return &buf
}

func TestStdLoggerFollowsLogSetOutput(t *testing.T) {
	l := newStdLogger() // made before the output is redirected
	buf := swapStdLog(t)
	l.Infof("after %s", "SetOutput")
	assert.Contains(t, buf.String(), "[watchdog] INFO after SetOutput")
}

func TestStdLoggerDefault(t *testing.T) {
	buf := swapStdLog(t)
	l := newStdLogger()
	assert.False(t, l.debug, "debug lines are dropped by default")

	tests := []struct {
		name  string
		log   func(string, ...interface{})
		level string
	}{
		{"info", l.Infof, "INFO"},
		{"warn", l.Warnf, "WARN"},
		{"error", l.Errorf, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log("value %d of %q", 42, "x")
			line := buf.String()
			require.True(t, strings.HasSuffix(line, "\n"), "one line: %q", line)
			require.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
			// Lmsgprefix: the prefix sits right before the message, after
			// the timestamp.
			assert.Contains(t, line, "[watchdog] "+tt.level+` value 42 of "x"`)
			assert.False(t, strings.HasPrefix(line, "[watchdog]"), "timestamp comes first: %q", line)
		})
	}

	t.Run("debug dropped", func(t *testing.T) {
		buf.Reset()
		l.Debugf("hidden %d", 1)
		assert.Empty(t, buf.String())
	})

	t.Run("debug when enabled", func(t *testing.T) {
		buf.Reset()
		dl := newStdLogger()
		dl.debug = true
		dl.Debugf("shown %d", 2)
		assert.Contains(t, buf.String(), "[watchdog] DEBUG shown 2")
	})
}

func TestStdLoggerIsPackageDefault(t *testing.T) {
	// Another test may have replaced Logger; only check the type when it
	// is still the default.
	if l, ok := Logger.(*stdlog); ok {
		assert.False(t, l.debug)
		assert.Equal(t, "[watchdog] ", l.log.Prefix())
		assert.NotZero(t, l.log.Flags()&log.Lmsgprefix)
	}
}

type slogLine struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	Component string `json:"component"`
}

func decodeSlogLines(t *testing.T, buf *bytes.Buffer) []slogLine {
	t.Helper()
	var out []slogLine
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if raw == "" {
			continue
		}
		var l slogLine
		require.NoError(t, json.Unmarshal([]byte(raw), &l), raw)
		out = append(out, l)
	}
	return out
}

func TestSlogLoggerLevels(t *testing.T) {
	tests := []struct {
		name      string
		handler   slog.Level
		log       func(*SlogLogger) func(string, ...interface{})
		wantLevel string // empty: dropped
	}{
		{"debug at debug handler", slog.LevelDebug, func(s *SlogLogger) func(string, ...interface{}) { return s.Debugf }, "DEBUG"},
		{"info at debug handler", slog.LevelDebug, func(s *SlogLogger) func(string, ...interface{}) { return s.Infof }, "INFO"},
		{"warn at debug handler", slog.LevelDebug, func(s *SlogLogger) func(string, ...interface{}) { return s.Warnf }, "WARN"},
		{"error at debug handler", slog.LevelDebug, func(s *SlogLogger) func(string, ...interface{}) { return s.Errorf }, "ERROR"},
		{"debug dropped by info handler", slog.LevelInfo, func(s *SlogLogger) func(string, ...interface{}) { return s.Debugf }, ""},
		{"info at info handler", slog.LevelInfo, func(s *SlogLogger) func(string, ...interface{}) { return s.Infof }, "INFO"},
		{"info dropped by warn handler", slog.LevelWarn, func(s *SlogLogger) func(string, ...interface{}) { return s.Infof }, ""},
		{"warn at warn handler", slog.LevelWarn, func(s *SlogLogger) func(string, ...interface{}) { return s.Warnf }, "WARN"},
		{"warn dropped by error handler", slog.LevelError, func(s *SlogLogger) func(string, ...interface{}) { return s.Warnf }, ""},
		{"error at error handler", slog.LevelError, func(s *SlogLogger) func(string, ...interface{}) { return s.Errorf }, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.handler})
			s := NewSlogLogger(slog.New(h))
			tt.log(s)("used %d of %s (%.1f%%)", 512, "1GiB", 50.0)
			lines := decodeSlogLines(t, &buf)
			if tt.wantLevel == "" {
				assert.Empty(t, lines)
				return
			}
			require.Len(t, lines, 1)
			assert.Equal(t, tt.wantLevel, lines[0].Level)
			assert.Equal(t, "used 512 of 1GiB (50.0%)", lines[0].Msg)
			assert.Equal(t, "watchdog", lines[0].Component)
		})
	}
}

func TestSlogLoggerNoArgs(t *testing.T) {
	var buf bytes.Buffer
	s := NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	s.Infof("plain message")
	lines := decodeSlogLines(t, &buf)
	require.Len(t, lines, 1)
	assert.Equal(t, "plain message", lines[0].Msg)
}

// levelCountHandler counts Handle calls and reports Enabled for levels at or
// above min.
type levelCountHandler struct {
	min     slog.Level
	handled *int
}

func (h levelCountHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h levelCountHandler) Handle(context.Context, slog.Record) error {
	*h.handled++
	return nil
}
func (h levelCountHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h levelCountHandler) WithGroup(string) slog.Handler      { return h }

func TestSlogLoggerSkipsFormattingWhenDisabled(t *testing.T) {
	n := 0
	s := NewSlogLogger(slog.New(levelCountHandler{min: slog.LevelWarn, handled: &n}))
	formatted := false
	arg := stringerFunc(func() string { formatted = true; return "x" })
	s.Debugf("%v", arg)
	s.Infof("%v", arg)
	assert.Equal(t, 0, n)
	assert.False(t, formatted, "disabled levels should not format their arguments")
	s.Warnf("%v", arg)
	assert.Equal(t, 1, n)
	assert.True(t, formatted)
}

type stringerFunc func() string

func (f stringerFunc) String() string { return f() }

func TestSlogLoggerNilUsesDefault(t *testing.T) {
	// slog.SetDefault also redirects the log package; restore both.
	swapStdLog(t)
	saved := slog.Default()
	t.Cleanup(func() { slog.SetDefault(saved) })

	var buf bytes.Buffer
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	s := NewSlogLogger(nil)
	require.NotNil(t, s)
	s.Warnf("through the default %d", 7)
	lines := decodeSlogLines(t, &buf)
	require.Len(t, lines, 1)
	assert.Equal(t, "WARN", lines[0].Level)
	assert.Equal(t, "through the default 7", lines[0].Msg)
	assert.Equal(t, "watchdog", lines[0].Component)
}

func TestSlogLoggerCarriesTheRunsState(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	var buf bytes.Buffer
	Logger = NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	h.start(NewWatermarkPolicy(0.5, 0.9), time.Second)
	d := h.wait()
	h.src.set(func(f *fakeSource) { f.usage = 60 * mib })
	h.tick(d)
	h.stop()
	var forced map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &line), raw)
		if strings.Contains(line["msg"].(string), "forcing GC") {
			forced = line
		}
	}
	require.NotNil(t, forced, "the forced GC was logged:\n%s", buf.String())
	assert.Equal(t, "WARN", forced["level"])
	assert.Equal(t, "cgroup", forced["driver"])
	assert.Equal(t, "watchdog", forced["component"])
	assert.EqualValues(t, 100*mib, forced["limit_bytes"])
	assert.EqualValues(t, 50*mib, forced["threshold_bytes"])
	assert.Contains(t, forced, "usage_bytes")
	assert.Contains(t, forced, "soft_limit_bytes")
}
