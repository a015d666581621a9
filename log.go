package watchdog

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"runtime"
	"time"
)

// logger is what the watchdog logs through. zap's SugaredLogger, go-log and
// *SlogLogger all satisfy it.
type logger interface {
	Debugf(template string, args ...interface{})
	Infof(template string, args ...interface{})
	Warnf(template string, args ...interface{})
	Errorf(template string, args ...interface{})
}

// SetLogger sets Logger under the package's lock, so that it is safe while
// a watchdog runs and logs from its own goroutines (a plain assignment to
// Logger then is a data race). nil means the default logger.
func SetLogger(l logger) {
	settingsMu.Lock()
	Logger = l
	settingsMu.Unlock()
}

// currentLogger returns Logger, or the default logger when it is nil.
func currentLogger() logger {
	settingsMu.RLock()
	l := Logger
	settingsMu.RUnlock()
	if l == nil {
		return defaultLogger
	}
	return l
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

// defaultLogger is the Logger a program gets without setting one: the
// standard log package's output as it was when this package was
// initialised, as in v1.3.0, with the prefix "[watchdog] " and the level
// after it. Once the program makes a slog handler the default
// (slog.SetDefault), its lines go to slog.Default() instead, at their
// levels and with the attributes NewSlogLogger gives, so they keep their
// levels and are not wrapped in a line of the standard logger.
var defaultLogger = &stdlogOrSlog{std: newStdLogger(log.Writer()), initSlog: slog.Default()}

// newStdLogger returns a stdlog writing to w with the watchdog's prefix.
func newStdLogger(w io.Writer) *stdlog {
	return &stdlog{log: log.New(w, "[watchdog] ", log.LstdFlags|log.Lmsgprefix)}
}

type stdlogOrSlog struct {
	std      *stdlog
	initSlog *slog.Logger
}

// slog returns the program's default slog logger when it set one.
func (d *stdlogOrSlog) slog() *SlogLogger {
	if l := slog.Default(); l != d.initSlog {
		return &SlogLogger{l: l.With("component", "watchdog")}
	}
	return nil
}

func (d *stdlogOrSlog) logFields(level logLevel, f *logFields, template string, args []interface{}) {
	if s := d.slog(); s != nil {
		s.logFields(level, f, template, args)
		return
	}
	logLeveled(d.std, level, template, args)
}

func (d *stdlogOrSlog) Debugf(template string, args ...interface{}) {
	d.logFields(levelDebug, nil, template, args)
}

func (d *stdlogOrSlog) Infof(template string, args ...interface{}) {
	d.logFields(levelInfo, nil, template, args)
}

func (d *stdlogOrSlog) Warnf(template string, args ...interface{}) {
	d.logFields(levelWarn, nil, template, args)
}

func (d *stdlogOrSlog) Errorf(template string, args ...interface{}) {
	d.logFields(levelError, nil, template, args)
}

type logLevel int8

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
)

// The kinds of log line, for the event attribute. Lines that report an
// Event use the EventKind's name.
const (
	kindStarted       = "started"
	kindGCForced      = "gc_forced"
	kindThreshold     = "threshold"
	kindPressure      = "pressure_changed"
	kindLimit         = "limit_changed"
	kindSoftLimit     = "soft_limit_changed"
	kindBeyondGC      = "beyond_gc"
	kindGOGC          = "gogc"
	kindPolicyError   = "policy_error"
	kindReadError     = "read_error"
	kindCallbackPanic = "callback_panic"
	kindConfig        = "config"
	kindHeapProfile   = "heap_profile"
	kindError         = "error"
)

// logFields is what a line carries besides its message. SlogLogger turns it
// into attributes; other loggers get the message only. A run fills the
// figures from the same values its message is built from.
type logFields struct {
	kind      string
	pc        uintptr // the watchdog's call site, for slog's source
	driver    string  // empty for lines logged outside a run
	usage     uint64
	threshold uint64 // PolicyTempDisabled: none
	limit     uint64 // 0: none
	softLimit int64  // 0: not managed
}

// fieldLogger is implemented by loggers that take the fields as attributes.
type fieldLogger interface {
	logFields(level logLevel, f *logFields, template string, args []interface{})
}

// emitLog sends one line to the Logger.
func emitLog(level logLevel, f *logFields, template string, args []interface{}) {
	l := currentLogger()
	if fl, ok := l.(fieldLogger); ok {
		fl.logFields(level, f, template, args)
		return
	}
	logLeveled(l, level, template, args)
}

func logLeveled(l logger, level logLevel, template string, args []interface{}) {
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

// callerPC returns the program counter of the caller of the function that
// calls it.
func callerPC() uintptr {
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:])
	return pcs[0]
}

// logNow logs a line outside a run, on the calling goroutine. A Logger that
// panics is reported on standard error; the panic does not propagate.
func logNow(level logLevel, kind string, template string, args ...interface{}) {
	defer func() {
		if p := recover(); p != nil {
			stderrf("the Logger panicked (%v) on: "+template, append([]interface{}{p}, args...)...)
		}
	}()
	emitLog(level, &logFields{kind: kind, pc: callerPC()}, template, args)
}

// SlogLogger makes a *slog.Logger usable as Logger:
//
//	watchdog.SetLogger(watchdog.NewSlogLogger(slog.Default()))
//
// Messages are formatted with fmt.Sprintf and logged at the matching slog
// level with the attribute component=watchdog and, for the watchdog's own
// lines, event (what the line is about, such as gc_forced or
// limit_changed; see EventKind) and the source position of the watchdog's
// code that logged it. Lines from a running watchdog also carry the figures
// the message speaks of: driver, and in bytes usage_bytes, threshold_bytes
// (absent when there is none), limit_bytes (absent when there is none) and
// soft_limit_bytes (absent when the soft limit is not managed).
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
	var pc uintptr
	if f != nil {
		pc = f.pc
	}
	rec := slog.NewRecord(time.Now(), lv, fmt.Sprintf(template, args...), pc)
	if f != nil {
		if f.kind != "" {
			rec.AddAttrs(slog.String("event", f.kind))
		}
		if f.driver != "" {
			rec.AddAttrs(slog.String("driver", f.driver), slog.Uint64("usage_bytes", f.usage))
			if f.threshold != PolicyTempDisabled {
				rec.AddAttrs(slog.Uint64("threshold_bytes", f.threshold))
			}
			if f.limit != 0 {
				rec.AddAttrs(slog.Uint64("limit_bytes", f.limit))
			}
			if f.softLimit > 0 {
				rec.AddAttrs(slog.Int64("soft_limit_bytes", f.softLimit))
			}
		}
	}
	_ = s.l.Handler().Handle(ctx, rec)
}

// Debugf logs at slog.LevelDebug.
func (s *SlogLogger) Debugf(template string, args ...interface{}) {
	s.logFields(levelDebug, &logFields{pc: callerPC()}, template, args)
}

// Infof logs at slog.LevelInfo.
func (s *SlogLogger) Infof(template string, args ...interface{}) {
	s.logFields(levelInfo, &logFields{pc: callerPC()}, template, args)
}

// Warnf logs at slog.LevelWarn.
func (s *SlogLogger) Warnf(template string, args ...interface{}) {
	s.logFields(levelWarn, &logFields{pc: callerPC()}, template, args)
}

// Errorf logs at slog.LevelError.
func (s *SlogLogger) Errorf(template string, args ...interface{}) {
	s.logFields(levelError, &logFields{pc: callerPC()}, template, args)
}
