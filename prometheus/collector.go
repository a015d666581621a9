// Package watchdogprom exports the memory watchdog's state as Prometheus
// metrics:
//
//	prometheus.MustRegister(watchdogprom.NewCollector())
//
// It is a module of its own, github.com/raulk/go-watchdog/prometheus, so
// that programs that do not use Prometheus never download or link its
// client.
//
// The metrics are named under watchdog_ (Namespace) and are meant to be
// scraped beside client_golang's Go collector (collectors.NewGoCollector,
// which the default registry has): they carry only what the watchdog knows.
// GOGC, the soft memory limit in force and the count of GC cycles are left
// to its go_gc_gogc_percent, go_gc_gomemlimit_bytes and
// go_gc_duration_seconds_count. Sizes end in _bytes, times are Unix times
// in seconds, counters end in _total. (With the heap driver,
// watchdog_usage_bytes is the live heap, which the Go collector's
// go_gc_heap_live_bytes also shows when its GC metrics are on; it stays, as
// the one usage series of every driver, read against the threshold and the
// limit.)
//
// A value that means "none" is not exported at all, never as 0 or +Inf:
//
//   - before any watchdog ran, only watchdog_running 0 is;
//   - after a watchdog stopped, watchdog_running 0, watchdog_info, the start
//     time, the last run's counters and timestamps are: the gauges of the
//     current state (limit, usage, threshold, pressure...) are not;
//   - while a watchdog runs, watchdog_usage_bytes is absent until its first
//     measurement, watchdog_limit_bytes while there is no limit,
//     watchdog_threshold_bytes while there is no threshold,
//     watchdog_reserve_bytes and watchdog_user_soft_limit_bytes while the
//     watchdog does not manage the soft memory limit (and the latter while
//     the program set none), watchdog_reclaimable_bytes outside the cgroup
//     driver.
//
// The counters count from the start of the watchdog and restart at 0 when
// another watchdog starts: rate() and increase() treat that as a counter
// reset, watchdog_start_time_seconds says when it happened, and each
// counter carries that time as its created timestamp. The kinds of event a
// watchdog counts are values of the kind label of watchdog_events_total
// (the names of watchdog.EventKind): forced GCs are
// watchdog_events_total{kind="gc_forced"}.
//
// Label values are bounded: watchdog_info{driver, source} names the driver
// (heap, cgroup or system) and the kind of source (cgroup v1, cgroup v2,
// system or heap), never the cgroup's path, which changes with every pod
// and container.
package watchdogprom

import (
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	watchdog "github.com/raulk/go-watchdog"
)

// Namespace prefixes every metric name: watchdog_usage_bytes and so on.
const Namespace = "watchdog"

// counter is a counter of the watchdog's Stats.
type counter struct {
	desc  *prometheus.Desc
	value func(s *watchdog.Stats) uint64
}

// gauge is a gauge of the running watchdog's state; ok false means "none":
// the gauge is not exported in that scrape.
type gauge struct {
	desc  *prometheus.Desc
	value func(s *watchdog.Stats) (v float64, ok bool)
}

// eventKind is one value of the kind label of watchdog_events_total.
type eventKind struct {
	kind  watchdog.EventKind
	value func(s *watchdog.Stats) uint64
}

// eventKinds are the kinds of event Stats counts.
var eventKinds = []eventKind{
	{watchdog.EventGCForced, func(s *watchdog.Stats) uint64 { return s.ForcedGCs }},
	{watchdog.EventThresholdCrossed, func(s *watchdog.Stats) uint64 { return s.ThresholdCrossings }},
	{watchdog.EventGCIneffective, func(s *watchdog.Stats) uint64 { return s.GCsIneffective }},
	{watchdog.EventPressureChanged, func(s *watchdog.Stats) uint64 { return s.PressureChanges }},
	{watchdog.EventLimitChanged, func(s *watchdog.Stats) uint64 { return s.LimitChanges }},
	{watchdog.EventSoftLimitChanged, func(s *watchdog.Stats) uint64 { return s.SoftLimitChanges }},
}

// Collector is a prometheus.Collector for watchdog.Snapshot(). Each scrape
// takes one snapshot; Collect is safe to call from several goroutines.
type Collector struct {
	snapshot func() watchdog.Stats

	running, info, startTime       *prometheus.Desc
	lastForcedGC, lastSample, evts *prometheus.Desc
	counters                       []counter
	gauges                         []gauge
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

// NewCollector returns a Collector of the watchdog's state: the running
// watchdog's, else the last one's (watchdog_running 0). Register it once
// per registry.
func NewCollector() *Collector {
	c := &Collector{
		snapshot: watchdog.Snapshot,
		running:  newDesc("running", "1 while a watchdog runs, 0 otherwise."),
		info: newDesc("info",
			"Always 1, for the labels: driver is heap, cgroup or system; source is where usage is read: cgroup v1, cgroup v2, system or heap. Absent until a watchdog has run.",
			"driver", "source"),
		startTime: newDesc("start_time_seconds",
			"When the watchdog started, as a Unix time; its counters count from then."),
		lastForcedGC: newDesc("last_forced_gc_timestamp_seconds",
			"When the last GC the watchdog forced started, as a Unix time. Absent if it forced none."),
		lastSample: newDesc("last_sample_timestamp_seconds",
			"When the watchdog last measured usage, as a Unix time. Absent if it never did."),
		evts: newDesc("events_total",
			"Events of each kind since the watchdog started: gc_forced (GCs the watchdog forced), threshold_crossed, gc_ineffective (usage still at or above the threshold after a GC), pressure_changed, limit_changed, soft_limit_changed (the watchdog changed the Go soft memory limit).",
			"kind"),
	}
	addCounter := func(name, help string, value func(s *watchdog.Stats) uint64) {
		c.counters = append(c.counters, counter{newDesc(name, help), value})
	}
	addCounter("kernel_wakeups_total",
		"Kernel notifications (cgroup usage thresholds, memory pressure) that woke the watchdog to measure usage early, since it started.",
		func(s *watchdog.Stats) uint64 { return s.Events })
	addCounter("events_dropped_total",
		"Events not delivered to a watchdog.Subscribe channel because it was full, since the watchdog started.",
		func(s *watchdog.Stats) uint64 { return s.EventsDropped })
	addCounter("forced_gcs_deferred_total",
		"GCs the watchdog would have forced but held back, since it started: usage stayed at or above the threshold after a forced GC, so the next waits for the polling period or for the heap to grow.",
		func(s *watchdog.Stats) uint64 { return s.ForcedGCsDeferred })
	addCounter("samples_total",
		"Usage measurements (on the timer or a kernel notification) since the watchdog started.",
		func(s *watchdog.Stats) uint64 { return s.Samples })
	addCounter("read_errors_total",
		"Usage measurements that failed to read the source, since the watchdog started.",
		func(s *watchdog.Stats) uint64 { return s.ReadErrors })
	addCounter("callback_panics_total",
		"Panics recovered from the program's callbacks (policies, notifees, ForcedGCFunc, the Logger) since the watchdog started.",
		func(s *watchdog.Stats) uint64 { return s.CallbackPanics })
	addCounter("logs_dropped_total",
		"Log lines dropped because the Logger fell behind, since the watchdog started.",
		func(s *watchdog.Stats) uint64 { return s.LogsDropped })

	addGauge := func(name, help string, value func(s *watchdog.Stats) (float64, bool)) {
		c.gauges = append(c.gauges, gauge{newDesc(name, help), value})
	}
	addGauge("limit_bytes",
		"The memory limit the watchdog keeps usage under: the smallest cgroup memory limit on the process's path (cgroup driver), the system's limit (system driver) or the heap limit (heap driver). Absent while the cgroup has no limit.",
		func(s *watchdog.Stats) (float64, bool) { return float64(s.Limit), s.Limit != 0 })
	addGauge("usage_bytes",
		"Usage at the watchdog's last measurement, what it compares with the threshold and the limit: the cgroup's usage less its file cache and the other memory counted in watchdog_reclaimable_bytes (cgroup driver; not Kubernetes' working set, which counts the active file cache), MemTotal less MemAvailable (system driver), the Go heap marked live by the last GC (heap driver).",
		func(s *watchdog.Stats) (float64, bool) { return float64(s.Usage), !s.LastSample.IsZero() })
	addGauge("threshold_bytes",
		"Usage at which the watchdog forces the next GC (heap driver: the heap size the GC pacer is told to target). Absent while there is none: no limit, the policy disabled, or the heap driver before its first GC.",
		func(s *watchdog.Stats) (float64, bool) {
			return float64(s.Threshold), s.Threshold != watchdog.PolicyTempDisabled
		})
	addGauge("reclaimable_bytes",
		"Memory left out of watchdog_usage_bytes at the last measurement because the kernel frees it before an OOM kill: the cgroup's file cache (active and inactive, dirty and under writeback included) and the freed parts of huge pages still charged. Cgroup driver only.",
		func(s *watchdog.Stats) (float64, bool) {
			return float64(s.Reclaimable), s.Driver == "cgroup" && !s.LastSample.IsZero()
		})
	addGauge("reserve_bytes",
		"Room the watchdog keeps between the Go soft memory limit it sets and watchdog_limit_bytes: a share of the limit, raised while memory outside the Go runtime keeps growing. Absent while the watchdog does not manage the soft limit or there is no limit.",
		func(s *watchdog.Stats) (float64, bool) {
			return float64(s.Reserve), managesSoftLimit(s) && s.Limit != 0
		})
	addGauge("user_soft_limit_bytes",
		"The Go soft memory limit the program set itself (GOMEMLIMIT, debug.SetMemoryLimit): the ceiling of the soft limit the watchdog sets in its place (go_gc_gomemlimit_bytes), restored when it stops. Absent while the program set none or the watchdog does not manage the soft limit.",
		func(s *watchdog.Stats) (float64, bool) {
			return float64(s.UserSoftLimit), managesSoftLimit(s) && s.UserSoftLimit != math.MaxInt64
		})
	addGauge("pressure_level",
		"Memory pressure: 0 none; 1 moderate, the memory GC cannot free (outside the Go runtime, the runtime's overhead, the live heap) at 80% of the limit or more, until under 75%; 2 critical, from 90% until under 85%, or while watchdog_beyond_gc is 1.",
		func(s *watchdog.Stats) (float64, bool) { return float64(s.Pressure), true })
	addGauge("beyond_gc",
		"1 while GC cannot make room: the memory outside the Go runtime, the runtime's overhead and the live heap leave the heap too little room under the limit, so the watchdog leaves the soft memory limit to the program; 0 otherwise.",
		func(s *watchdog.Stats) (float64, bool) { return b2f(s.BeyondGC), true })
	return c
}

// Describe sends the descriptors of every metric the Collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.running, c.info, c.startTime, c.lastForcedGC, c.lastSample, c.evts} {
		ch <- d
	}
	for _, m := range c.counters {
		ch <- m.desc
	}
	for _, m := range c.gauges {
		ch <- m.desc
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, b2f(s.Running))
	if s.Driver == "" || s.Started.IsZero() {
		return // no watchdog ever ran
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, s.Driver, sourceKind(s))
	ch <- prometheus.MustNewConstMetric(c.startTime, prometheus.GaugeValue, unix(s.Started))
	for _, e := range eventKinds {
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(c.evts, prometheus.CounterValue,
			float64(e.value(&s)), s.Started, e.kind.String())
	}
	for _, m := range c.counters {
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(m.desc, prometheus.CounterValue, float64(m.value(&s)), s.Started)
	}
	if !s.LastForcedGC.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastForcedGC, prometheus.GaugeValue, unix(s.LastForcedGC))
	}
	if !s.LastSample.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastSample, prometheus.GaugeValue, unix(s.LastSample))
	}
	if !s.Running {
		return // the state of a stopped watchdog is no one's state
	}
	for _, m := range c.gauges {
		if v, ok := m.value(&s); ok {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, v)
		}
	}
}

// sourceKind returns the kind of the usage source of s, the value of the
// source label of watchdog_info: "cgroup v1", "cgroup v2", "system" or
// "heap"; "" before any watchdog ran and "other" for a source it does not
// know. Stats.Source itself names the cgroup's path, a new label value for
// every pod and container.
func sourceKind(s watchdog.Stats) string {
	switch {
	case s.Driver == "":
		return ""
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

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix returns t as Unix seconds.
func unix(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
