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

// stdWriter writes to the standard logger's output as it is at each write,
// so a later log.SetOutput redirects the watchdog's lines too.
type stdWriter struct{}

func (stdWriter) Write(p []byte) (int, error) { return log.Writer().Write(p) }

// SlogLogger makes a *slog.Logger usable as Logger:
//
//	watchdog.Logger = watchdog.NewSlogLogger(slog.Default())
//
// Messages are formatted with fmt.Sprintf and logged at the matching slog
// level with the attribute component=watchdog.
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

func (s *SlogLogger) logf(level slog.Level, template string, args []interface{}) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, fmt.Sprintf(template, args...))
}

// Debugf logs at slog.LevelDebug.
func (s *SlogLogger) Debugf(template string, args ...interface{}) {
	s.logf(slog.LevelDebug, template, args)
}

// Infof logs at slog.LevelInfo.
func (s *SlogLogger) Infof(template string, args ...interface{}) {
	s.logf(slog.LevelInfo, template, args)
}

// Warnf logs at slog.LevelWarn.
func (s *SlogLogger) Warnf(template string, args ...interface{}) {
	s.logf(slog.LevelWarn, template, args)
}

// Errorf logs at slog.LevelError.
func (s *SlogLogger) Errorf(template string, args ...interface{}) {
	s.logf(slog.LevelError, template, args)
}
