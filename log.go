package watchdog

import (
	"context"
	"fmt"
	"log"
	"log/slog"
)

// logger is what the watchdog logs through. zap's SugaredLogger, go-log and
// *SlogLogger all satisfy it.
type logger interface {
	Debugf(template string, args ...interface{})
	Infof(template string, args ...interface{})
	Warnf(template string, args ...interface{})
	Errorf(template string, args ...interface{})
}

// stdlog writes through a standard *log.Logger; debug lines are dropped unless
// debug is set.
type stdlog struct {
	log   *log.Logger
	debug bool
}

var _ logger = (*stdlog)(nil)

func (s *stdlog) Debugf(template string, args ...interface{}) {
	if s.debug {
		s.log.Printf("DEBUG "+template, args...)
	}
}

func (s *stdlog) Infof(template string, args ...interface{}) {
	s.log.Printf("INFO "+template, args...)
}

func (s *stdlog) Warnf(template string, args ...interface{}) {
	s.log.Printf("WARN "+template, args...)
}

func (s *stdlog) Errorf(template string, args ...interface{}) {
	s.log.Printf("ERROR "+template, args...)
}

func newStdLogger() *stdlog {
	return &stdlog{log: log.New(stdWriter{}, "[watchdog] ", log.LstdFlags|log.Lmsgprefix)}
}

// nilLogger is what a nil Logger means: the default logger.
var nilLogger = newStdLogger()

// stdWriter writes to the standard logger's output as it is at each write,
// so a later log.SetOutput redirects the watchdog's lines too.
type stdWriter struct{}

func (stdWriter) Write(p []byte) (int, error) { return log.Writer().Write(p) }

type logLevel int8

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
)

// logFields is the state of a run that its log lines carry. SlogLogger
// turns it into attributes; other loggers get the message only.
type logFields struct {
	driver    string
	usage     uint64
	threshold uint64 // PolicyTempDisabled: none
	limit     uint64
	softLimit int64 // 0: not managed
}

// fieldLogger is implemented by loggers that take the fields as attributes.
type fieldLogger interface {
	logFields(level logLevel, f *logFields, template string, args []interface{})
}

// emit sends one line to Logger (the default logger when Logger is nil). f
// is nil for lines logged outside a run.
func emit(level logLevel, f *logFields, template string, args []interface{}) {
	l := Logger
	if l == nil {
		l = nilLogger
	}
	if fl, ok := l.(fieldLogger); ok {
		fl.logFields(level, f, template, args)
		return
	}
	switch level {
	case levelDebug:
		l.Debugf(template, args...)
	case levelInfo:
		l.Infof(template, args...)
	case levelWarn:
		l.Warnf(template, args...)
	default:
		l.Errorf(template, args...)
	}
}

// logNow logs a line outside a run, on the calling goroutine. A Logger that
// panics is reported on standard error; the panic does not propagate.
func logNow(level logLevel, template string, args ...interface{}) {
	defer func() {
		if p := recover(); p != nil {
			stderrf("the Logger panicked (%v) on: "+template, append([]interface{}{p}, args...)...)
		}
	}()
	emit(level, nil, template, args)
}

// SlogLogger makes a *slog.Logger usable as Logger:
//
//	watchdog.Logger = watchdog.NewSlogLogger(slog.Default())
//
// Messages are formatted with fmt.Sprintf and logged at the matching slog
// level with the attribute component=watchdog. Lines from a running
// watchdog also carry its state as attributes: driver, and in bytes
// usage_bytes, threshold_bytes (absent while the policy is disabled),
// limit_bytes and soft_limit_bytes (absent when the soft limit is not
// managed).
type SlogLogger struct {
	l *slog.Logger
}

// NewSlogLogger wraps l. A nil l means slog.Default().
func NewSlogLogger(l *slog.Logger) *SlogLogger {
	if l == nil {
		l = slog.Default()
	}
	return &SlogLogger{l: l.With("component", "watchdog")}
}

var slogLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func (s *SlogLogger) logFields(level logLevel, f *logFields, template string, args []interface{}) {
	ctx := context.Background()
	lv := slogLevels[level]
	if !s.l.Enabled(ctx, lv) {
		return
	}
	msg := fmt.Sprintf(template, args...)
	if f == nil {
		s.l.LogAttrs(ctx, lv, msg)
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("driver", f.driver), slog.Uint64("usage_bytes", f.usage))
	if f.threshold != PolicyTempDisabled {
		attrs = append(attrs, slog.Uint64("threshold_bytes", f.threshold))
	}
	attrs = append(attrs, slog.Uint64("limit_bytes", f.limit))
	if f.softLimit > 0 {
		attrs = append(attrs, slog.Int64("soft_limit_bytes", f.softLimit))
	}
	s.l.LogAttrs(ctx, lv, msg, attrs...)
}

// Debugf logs at slog.LevelDebug.
func (s *SlogLogger) Debugf(template string, args ...interface{}) {
	s.logFields(levelDebug, nil, template, args)
}

// Infof logs at slog.LevelInfo.
func (s *SlogLogger) Infof(template string, args ...interface{}) {
	s.logFields(levelInfo, nil, template, args)
}

// Warnf logs at slog.LevelWarn.
func (s *SlogLogger) Warnf(template string, args ...interface{}) {
	s.logFields(levelWarn, nil, template, args)
}

// Errorf logs at slog.LevelError.
func (s *SlogLogger) Errorf(template string, args ...interface{}) {
	s.logFields(levelError, nil, template, args)
}
