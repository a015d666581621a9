// Package watchdogotel exports the memory watchdog's state as OpenTelemetry
// metrics:
//
//	reg, err := watchdogotel.Register(otel.Meter("github.com/raulk/go-watchdog"))
//
// It is a module of its own, github.com/raulk/go-watchdog/otel, so that
// programs that do not use OpenTelemetry never download or link it.
//
// Register creates asynchronous instruments and one callback that observes
// them all from a single watchdog.Snapshot() per collection. They mirror
// the Prometheus collector of github.com/raulk/go-watchdog/prometheus, with
// the same meanings and names in OpenTelemetry's style (dots, UCUM units,
// counters without _total); OpenTelemetry's Prometheus exporter turns each
// into the collector's name:
//
//	instrument                         kind, attributes          unit
//	watchdog.running                   gauge: 0 or 1
//	watchdog.info                      gauge: 1; driver, source
//	watchdog.start_time                gauge: Unix time          s
//	watchdog.limit                     gauge                     By
//	watchdog.usage                     gauge                     By
//	watchdog.threshold                 gauge                     By
//	watchdog.reclaimable               gauge                     By
//	watchdog.reserve                   gauge                     By
//	watchdog.user_soft_limit           gauge                     By
//	watchdog.pressure.level            gauge: 0, 1 or 2
//	watchdog.beyond_gc                 gauge: 0 or 1
//	watchdog.last_forced_gc.timestamp  gauge: Unix time          s
//	watchdog.last_sample.timestamp     gauge: Unix time          s
//	watchdog.events                    counter; kind             {event}
//	watchdog.kernel_wakeups            counter                   {wakeup}
//	watchdog.events.dropped            counter                   {event}
//	watchdog.forced_gcs.deferred       counter                   {gc}
//	watchdog.samples                   counter                   {sample}
//	watchdog.read_errors               counter                   {error}
//	watchdog.callback_panics           counter                   {panic}
//	watchdog.logs.dropped              counter                   {line}
//
// What the runtime reports itself is not repeated: GOGC, the soft memory
// limit in force and the GC cycles are go.config.gogc, go.memory.limit and
// go.memory.gc.cycles in OpenTelemetry's Go runtime conventions
// (go.opentelemetry.io/contrib/instrumentation/runtime).
//
// The kind attribute of watchdog.events takes the names of
// watchdog.EventKind (gc_forced, threshold_crossed, gc_ineffective,
// pressure_changed, limit_changed, soft_limit_changed); the source
// attribute of watchdog.info is the kind of usage source (cgroup v1,
// cgroup v2, system or heap), never the cgroup's path. The instruments'
// descriptions say what each number is.
//
// A value that means "none" is not observed at all: before any watchdog
// ran only watchdog.running (0) is; after it stopped, running, info, the
// start time, the counters and timestamps are, not the gauges of its state;
// while it runs, limit is not observed while there is no limit, threshold
// while there is none, reserve and user_soft_limit while the watchdog does
// not manage the soft memory limit (user_soft_limit also while the program
// set none), reclaimable outside the cgroup driver, usage before the first
// measurement.
//
// The counters are monotonic over the life of the registration, as
// OpenTelemetry's asynchronous counters must be: the watchdog's own counts
// restart at 0 with each watchdog, so when another starts (a new start
// time, or a count that went down) the last counts observed of the previous
// one are carried over. Counts a watchdog made after the last collection
// before another watchdog replaced it are lost.
package watchdogotel

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	watchdog "github.com/raulk/go-watchdog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Register creates the watchdog's instruments with meter and registers the
// callback that observes them at each collection. Unregister the returned
// Registration to stop observing. Register once per MeterProvider: a
// second registration with a meter of the same name observes the same
// instruments again, and the SDK adds up the counters' observations.
func Register(meter metric.Meter) (metric.Registration, error) {
	return register(meter, watchdog.Snapshot)
}

// intGauge is a gauge of the running watchdog's state; ok false means
// "none": nothing is observed.
type intGauge struct {
	inst  metric.Int64ObservableGauge
	value func(s *watchdog.Stats) (v int64, ok bool)
}

// counter is one observed series of a counter: an instrument and, for
// watchdog.events, the kind attribute.
type counter struct {
	inst  metric.Int64ObservableCounter
	opts  []metric.ObserveOption
	value func(s *watchdog.Stats) uint64
}

// observer holds the instruments and the state that keeps the counters
// monotonic across watchdogs.
type observer struct {
	snapshot func() watchdog.Stats

	running, info                        metric.Int64ObservableGauge
	startTime, lastForcedGC, lastSampled metric.Float64ObservableGauge
	gauges                               []intGauge
	counters                             []counter

	mu      sync.Mutex
	started time.Time // Stats.Started at the last collection
	last    []uint64  // the counts of that watchdog then
	base    []uint64  // the counts carried over from earlier watchdogs
	sums    []int64   // scratch: what is observed
}

func register(meter metric.Meter, snapshot func() watchdog.Stats) (metric.Registration, error) {
	o := &observer{snapshot: snapshot}
	var (
		errs []error
		all  []metric.Observable
	)
	newIntGauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs, all = append(errs, err), append(all, g)
		return g
	}
	newTime := func(name, desc string) metric.Float64ObservableGauge {
		g, err := meter.Float64ObservableGauge(name, metric.WithUnit("s"), metric.WithDescription(desc))
		errs, all = append(errs, err), append(all, g)
		return g
	}
	newCounter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs, all = append(errs, err), append(all, c)
		return c
	}
	addGauge := func(name, unit, desc string, value func(s *watchdog.Stats) (int64, bool)) {
		o.gauges = append(o.gauges, intGauge{newIntGauge(name, unit, desc), value})
	}
	addCounter := func(name, unit, desc string, value func(s *watchdog.Stats) uint64) {
		o.counters = append(o.counters, counter{newCounter(name, unit, desc), nil, value})
	}

	o.running = newIntGauge("watchdog.running", "", "1 while a watchdog runs, 0 otherwise.")
	o.info = newIntGauge("watchdog.info", "",
		"Always 1, for the attributes: driver is heap, cgroup or system; source is where usage is read: cgroup v1, cgroup v2, system or heap.")
	o.startTime = newTime("watchdog.start_time", "When the watchdog started, as a Unix time.")
	o.lastForcedGC = newTime("watchdog.last_forced_gc.timestamp", "When the last GC the watchdog forced started, as a Unix time.")
	o.lastSampled = newTime("watchdog.last_sample.timestamp", "When the watchdog last measured usage, as a Unix time.")

	addGauge("watchdog.limit", "By",
		"The memory limit the watchdog keeps usage under: the smallest cgroup memory limit on the process's path (cgroup driver), the system's limit (system driver) or the heap limit (heap driver).",
		func(s *watchdog.Stats) (int64, bool) { return i64(s.Limit), s.Limit != 0 })
	addGauge("watchdog.usage", "By",
		"Usage at the watchdog's last measurement, what it compares with the threshold and the limit: the cgroup's usage less its file cache and the other memory counted in watchdog.reclaimable (cgroup driver; not Kubernetes' working set, which counts the active file cache), MemTotal less MemAvailable (system driver), the Go heap marked live by the last GC (heap driver).",
		func(s *watchdog.Stats) (int64, bool) { return i64(s.Usage), !s.LastSample.IsZero() })
	addGauge("watchdog.threshold", "By",
		"Usage at which the watchdog forces the next GC (heap driver: the heap size the GC pacer is told to target).",
		func(s *watchdog.Stats) (int64, bool) {
			return i64(s.Threshold), s.Threshold != watchdog.PolicyTempDisabled
		})
	addGauge("watchdog.reclaimable", "By",
		"Memory left out of watchdog.usage at the last measurement because the kernel frees it before an OOM kill: the cgroup's file cache (active and inactive, dirty and under writeback included) and the freed parts of huge pages still charged. Cgroup driver only.",
		func(s *watchdog.Stats) (int64, bool) {
			return i64(s.Reclaimable), s.Driver == "cgroup" && !s.LastSample.IsZero()
		})
	addGauge("watchdog.reserve", "By",
		"Room the watchdog keeps between the Go soft memory limit it sets and watchdog.limit: a share of the limit, raised while memory outside the Go runtime keeps growing.",
		func(s *watchdog.Stats) (int64, bool) { return i64(s.Reserve), managesSoftLimit(s) && s.Limit != 0 })
	addGauge("watchdog.user_soft_limit", "By",
		"The Go soft memory limit the program set itself (GOMEMLIMIT, debug.SetMemoryLimit): the ceiling of the soft limit the watchdog sets in its place, restored when it stops.",
		func(s *watchdog.Stats) (int64, bool) {
			return s.UserSoftLimit, managesSoftLimit(s) && s.UserSoftLimit != math.MaxInt64
		})
	addGauge("watchdog.pressure.level", "",
		"Memory pressure: 0 none; 1 moderate, the memory GC cannot free (outside the Go runtime, the runtime's overhead, the live heap) at 80% of the limit or more, until under 75%; 2 critical, from 90% until under 85%, or while watchdog.beyond_gc is 1.",
		func(s *watchdog.Stats) (int64, bool) { return int64(s.Pressure), true })
	addGauge("watchdog.beyond_gc", "",
		"1 while GC cannot make room: the memory outside the Go runtime, the runtime's overhead and the live heap leave the heap too little room under the limit, so the watchdog leaves the soft memory limit to the program; 0 otherwise.",
		func(s *watchdog.Stats) (int64, bool) { return b2i(s.BeyondGC), true })

	events := newCounter("watchdog.events", "{event}",
		"Events by kind: gc_forced (GCs the watchdog forced), threshold_crossed, gc_ineffective (usage still at or above the threshold after a GC), pressure_changed, limit_changed, soft_limit_changed (the watchdog changed the Go soft memory limit).")
	for _, e := range []struct {
		kind  watchdog.EventKind
		value func(s *watchdog.Stats) uint64
	}{
		{watchdog.EventGCForced, func(s *watchdog.Stats) uint64 { return s.ForcedGCs }},
		{watchdog.EventThresholdCrossed, func(s *watchdog.Stats) uint64 { return s.ThresholdCrossings }},
		{watchdog.EventGCIneffective, func(s *watchdog.Stats) uint64 { return s.GCsIneffective }},
		{watchdog.EventPressureChanged, func(s *watchdog.Stats) uint64 { return s.PressureChanges }},
		{watchdog.EventLimitChanged, func(s *watchdog.Stats) uint64 { return s.LimitChanges }},
		{watchdog.EventSoftLimitChanged, func(s *watchdog.Stats) uint64 { return s.SoftLimitChanges }},
	} {
		attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", e.kind.String())))
		o.counters = append(o.counters, counter{events, []metric.ObserveOption{attrs}, e.value})
	}
	addCounter("watchdog.kernel_wakeups", "{wakeup}",
		"Kernel notifications (cgroup usage thresholds, memory pressure) that woke the watchdog to measure usage early.",
		func(s *watchdog.Stats) uint64 { return s.Events })
	addCounter("watchdog.events.dropped", "{event}",
		"Events not delivered to a watchdog.Subscribe channel because it was full.",
		func(s *watchdog.Stats) uint64 { return s.EventsDropped })
	addCounter("watchdog.forced_gcs.deferred", "{gc}",
		"GCs the watchdog would have forced but held back: usage stayed at or above the threshold after a forced GC, so the next waits for the polling period or for the heap to grow.",
		func(s *watchdog.Stats) uint64 { return s.ForcedGCsDeferred })
	addCounter("watchdog.samples", "{sample}",
		"Usage measurements, on the timer or a kernel notification.",
		func(s *watchdog.Stats) uint64 { return s.Samples })
	addCounter("watchdog.read_errors", "{error}",
		"Usage measurements that failed to read the source.",
		func(s *watchdog.Stats) uint64 { return s.ReadErrors })
	addCounter("watchdog.callback_panics", "{panic}",
		"Panics recovered from the program's callbacks (policies, notifees, ForcedGCFunc, the Logger).",
		func(s *watchdog.Stats) uint64 { return s.CallbackPanics })
	addCounter("watchdog.logs.dropped", "{line}",
		"Log lines dropped because the Logger fell behind.",
		func(s *watchdog.Stats) uint64 { return s.LogsDropped })

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := len(o.counters)
	o.last, o.base, o.sums = make([]uint64, n), make([]uint64, n), make([]int64, n)
	return meter.RegisterCallback(o.observe, all...)
}

// observe is the callback: one snapshot, every instrument.
func (o *observer) observe(_ context.Context, obs metric.Observer) error {
	s := o.snapshot()
	obs.ObserveInt64(o.running, b2i(s.Running))
	if s.Driver == "" || s.Started.IsZero() {
		return nil // no watchdog ever ran
	}
	obs.ObserveInt64(o.info, 1, metric.WithAttributes(
		attribute.String("driver", s.Driver), attribute.String("source", sourceKind(&s))))
	obs.ObserveFloat64(o.startTime, unix(s.Started))
	if !s.LastForcedGC.IsZero() {
		obs.ObserveFloat64(o.lastForcedGC, unix(s.LastForcedGC))
	}
	if !s.LastSample.IsZero() {
		obs.ObserveFloat64(o.lastSampled, unix(s.LastSample))
	}

	// Collections by several readers may run at once.
	o.mu.Lock()
	o.accumulate(&s)
	for i, c := range o.counters {
		obs.ObserveInt64(c.inst, o.sums[i], c.opts...)
	}
	o.mu.Unlock()

	if !s.Running {
		return nil // the state of a stopped watchdog is no one's state
	}
	for _, g := range o.gauges {
		if v, ok := g.value(&s); ok {
			obs.ObserveInt64(g.inst, v)
		}
	}
	return nil
}

// accumulate sets o.sums to the monotonic counts for s: the counts of s,
// plus those of the watchdogs before it. Called with o.mu held.
func (o *observer) accumulate(s *watchdog.Stats) {
	newRun := !s.Started.Equal(o.started)
	for i, c := range o.counters {
		if c.value(s) < o.last[i] {
			newRun = true // a restart the start time did not show (a mock clock)
		}
	}
	o.started = s.Started
	for i, c := range o.counters {
		if newRun {
			o.base[i] += o.last[i]
		}
		o.last[i] = c.value(s)
		o.sums[i] = i64(o.base[i] + o.last[i])
	}
}

// sourceKind returns the kind of the usage source: "cgroup v1",
// "cgroup v2", "system", "heap", or "other" for a source it does not know.
// Stats.Source itself names the cgroup's path, a new attribute value for
// every pod and container.
func sourceKind(s *watchdog.Stats) string {
	switch {
	case s.Driver == "heap":
		return "heap"
	case s.Source == "system":
		return "system"
	case strings.HasPrefix(s.Source, "cgroup v1 "), s.Source == "cgroup v1":
		return "cgroup v1"
	case strings.HasPrefix(s.Source, "cgroup v2 "), s.Source == "cgroup v2":
		return "cgroup v2"
	}
	return "other"
}

// managesSoftLimit reports whether the watchdog manages the Go soft memory
// limit: Stats.UserSoftLimit is 0 when it does not.
func managesSoftLimit(s *watchdog.Stats) bool { return s.UserSoftLimit != 0 }

// i64 converts a size or count, saturating at math.MaxInt64.
func i64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unix returns t as Unix seconds.
func unix(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
