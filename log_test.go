package watchdog

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"os"
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
	saved := currentLogger()
	t.Cleanup(func() { SetLogger(saved) })
	SetLogger(NewSlogLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))))
	_, ok := currentLogger().(*SlogLogger)
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

// As in v1.3.0, the default logger writes where the standard logger wrote
// when the package was initialised: a later log.SetOutput does not move it.
func TestDefaultLoggerKeepsTheOutputOfProgramStart(t *testing.T) {
	buf := swapStdLog(t)
	defaultLogger.Infof("a line for standard error, after %s", "SetOutput")
	assert.Empty(t, buf.String())
}

func TestStdLoggerDefault(t *testing.T) {
	buf := swapStdLog(t)
	l := newStdLogger(log.Writer())
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
		dl := newStdLogger(log.Writer())
		dl.debug = true
		dl.Debugf("shown %d", 2)
		assert.Contains(t, buf.String(), "[watchdog] DEBUG shown 2")
	})
}

func TestStdLoggerIsPackageDefault(t *testing.T) {
	l := defaultLogger.std
	assert.False(t, l.debug)
	assert.Equal(t, "[watchdog] ", l.log.Prefix())
	assert.NotZero(t, l.log.Flags()&log.Lmsgprefix)
	assert.Same(t, os.Stderr, l.log.Writer(), "the standard logger's output at init")
}

// With slog.SetDefault and no Logger set, the watchdog's lines reach the
// slog handler at their own levels, once, with the run's attributes; not
// as an INFO line wrapping "[watchdog] WARN ...".
func TestDefaultLoggerFollowsSlogDefault(t *testing.T) {
	swapStdLog(t)
	saved := slog.Default()
	t.Cleanup(func() { slog.SetDefault(saved) })
	var buf bytes.Buffer
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{AddSource: true})))
	emitLog(levelWarn, &logFields{kind: kindGCForced, pc: callerPC(), driver: "cgroup", usage: 7, threshold: 5, limit: 10}, "usage %d over %d", []interface{}{7, 5})
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "WARN", line["level"])
	assert.Equal(t, "usage 7 over 5", line["msg"])
	assert.Equal(t, "gc_forced", line["event"])
	assert.EqualValues(t, 7, line["usage_bytes"])
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), "one line")
	assert.NotContains(t, buf.String(), "[watchdog]")
	assert.Contains(t, line, "source")
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
	SetLogger(NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
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
	assert.Equal(t, "gc_forced", forced["event"])
	assert.EqualValues(t, 100*mib, forced["limit_bytes"])
	assert.EqualValues(t, 50*mib, forced["threshold_bytes"])
	assert.EqualValues(t, 60*mib, forced["usage_bytes"], "the usage the message names")
	assert.Contains(t, forced, "soft_limit_bytes")
}

// Every line of a run carries the figures its message speaks of: the
// usage_bytes attribute is the usage in the message, and a forcing line's
// usage is at or above its threshold.
func TestSlogAttributesMatchTheMessage(t *testing.T) {
	h := newHarness(t, 100*mib, 10*mib)
	var buf bytes.Buffer
	SetLogger(NewSlogLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	h.start(NewWatermarkPolicy(0.5, 0.7, 0.9), time.Second)
	d := h.wait()
	for _, u := range []uint64{30, 55, 40, 75, 20, 95} {
		h.src.set(func(f *fakeSource) { f.usage = u * mib })
		d = h.tick(d)
		h.gcEnded()
	}
	h.stop()
	n := 0
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &line), raw)
		msg := line["msg"].(string)
		require.Contains(t, line, "event", raw)
		if u, ok := line["usage_bytes"]; ok && strings.Contains(msg, "usage ") {
			n++
			assert.Contains(t, msg, fmtSize(uint64(u.(float64))), "the message names the attribute's usage: %s", raw)
		}
		if strings.Contains(msg, "forcing GC") {
			assert.GreaterOrEqual(t, line["usage_bytes"], line["threshold_bytes"], raw)
		}
	}
	assert.Greater(t, n, 3, "lines with usage checked")
}
