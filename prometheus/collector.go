// Package watchdogprom exports the memory watchdog's state as Prometheus
// metrics:
//
//	prometheus.MustRegister(watchdogprom.NewCollector())
//
// It is a module of its own, github.com/raulk/go-watchdog/prometheus, so
// that programs that do not use Prometheus never download or link its
// client. Every field of watchdog.Stats has a metric, named by the
// Prometheus conventions under the prefix go_watchdog_: sizes in bytes end
// in _bytes, counts since the watchdog started are counters ending in
// _total (they restart at zero when a new watchdog starts, which rate()
// treats as a counter reset), and times are Unix timestamps in seconds.
// The driver and usage source are labels of go_watchdog_info.
package watchdogprom

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	watchdog "github.com/raulk/go-watchdog"
)

// Namespace prefixes every metric name.
const Namespace = "go_watchdog"

// metric describes one exported value of a snapshot.
type metric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(s *watchdog.Stats) (v float64, ok bool) // ok false: not exported this scrape
}

// Collector is a prometheus.Collector for watchdog.Snapshot(). Each scrape
// takes one snapshot; Collect is safe to call from several goroutines.
type Collector struct {
	snapshot func() watchdog.Stats
	info     *prometheus.Desc
	metrics  []metric
}

// NewCollector returns a Collector of the watchdog's state: the running
// watchdog's, else the last one's (go_watchdog_running 0), else zeros.
// Register it once per registry.
func NewCollector() *Collector {
	c := &Collector{
		snapshot: watchdog.Snapshot,
		info: prometheus.NewDesc(Namespace+"_info",
			"The watchdog's driver (heap, cgroup or system) and usage source; absent until a watchdog has run.",
			[]string{"driver", "source"}, nil),
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	add := func(name, help string, kind prometheus.ValueType, value func(s *watchdog.Stats) (float64, bool)) {
		c.metrics = append(c.metrics, metric{prometheus.NewDesc(Namespace+"_"+name, help, nil, nil), kind, value})
	}
	always := func(f func(s *watchdog.Stats) float64) func(s *watchdog.Stats) (float64, bool) {
		return func(s *watchdog.Stats) (float64, bool) { return f(s), true }
	}
	add("running", "1 while a watchdog runs, 0 otherwise.", gauge, always(func(s *watchdog.Stats) float64 { return b2f(s.Running) }))
	add("start_time_seconds", "When the watchdog started, as a Unix time.", gauge, stamp(func(s *watchdog.Stats) time.Time { return s.Started }))
	add("limit_bytes", "The memory limit the watchdog enforces.", gauge, always(func(s *watchdog.Stats) float64 { return float64(s.Limit) }))
	add("usage_bytes", "Usage at the last measurement: the cgroup's working set, the system's used memory, or the live heap in heap mode.", gauge,
		always(func(s *watchdog.Stats) float64 { return float64(s.Usage) }))
	add("threshold_bytes", "Usage at which the next GC is forced; +Inf while the policy is disabled.", gauge,
		always(func(s *watchdog.Stats) float64 {
			if s.Threshold == watchdog.PolicyTempDisabled {
				return math.Inf(1)
			}
			return float64(s.Threshold)
		}))
	add("soft_limit_bytes", "The Go soft memory limit the watchdog set; 0 when it does not manage it, +Inf for no limit.", gauge,
		always(func(s *watchdog.Stats) float64 { return limit(s.SoftLimit) }))
	add("user_soft_limit_bytes", "The soft memory limit the program set itself (GOMEMLIMIT), the watchdog's ceiling; +Inf for none, 0 when the soft limit is not managed.", gauge,
		always(func(s *watchdog.Stats) float64 { return limit(s.UserSoftLimit) }))
	add("reserve_bytes", "Headroom the soft limit keeps under the limit; 0 when the soft limit is not managed.", gauge,
		always(func(s *watchdog.Stats) float64 { return float64(s.Reserve) }))
	add("reclaimable_bytes", "Memory the kernel frees before an OOM kill (clean file cache, freed parts of huge pages) left out of usage at the last measurement (cgroup driver).", gauge,
		always(func(s *watchdog.Stats) float64 { return float64(s.Reclaimable) }))
	add("gogc", "GOGC in force at the last measurement; -1 when GC is off.", gauge, always(func(s *watchdog.Stats) float64 { return float64(s.GOGC) }))
	add("gcs_total", "GC cycles completed since the watchdog started.", counter, always(func(s *watchdog.Stats) float64 { return float64(s.GCs) }))
	add("forced_gcs_total", "GCs the watchdog forced.", counter, always(func(s *watchdog.Stats) float64 { return float64(s.ForcedGCs) }))
	add("forced_gcs_deferred_total", "Forced GCs held back because usage stayed above the threshold after a forced GC.", counter,
		always(func(s *watchdog.Stats) float64 { return float64(s.ForcedGCsDeferred) }))
	add("forced_gcs_avoided_total", "Threshold crossings left to the runtime's own GC, due before usage neared the limit, after which no forced GC was needed.", counter,
		always(func(s *watchdog.Stats) float64 { return float64(s.ForcedGCsAvoided) }))
	add("last_forced_gc_timestamp_seconds", "When the last forced GC started, as a Unix time; absent if none.", gauge,
		stamp(func(s *watchdog.Stats) time.Time { return s.LastForcedGC }))
	add("events_total", "Kernel memory events (cgroup thresholds, pressure) that woke the watchdog.", counter,
		always(func(s *watchdog.Stats) float64 { return float64(s.Events) }))
	add("samples_total", "Usage measurements taken.", counter, always(func(s *watchdog.Stats) float64 { return float64(s.Samples) }))
	add("read_errors_total", "Usage measurements that failed.", counter, always(func(s *watchdog.Stats) float64 { return float64(s.ReadErrors) }))
	add("last_sample_timestamp_seconds", "When usage was last measured, as a Unix time; absent if never.", gauge,
		stamp(func(s *watchdog.Stats) time.Time { return s.LastSample }))
	add("callback_panics_total", "Panics recovered from the program's callbacks (policies, notifees, ForcedGCFunc, Logger).", counter,
		always(func(s *watchdog.Stats) float64 { return float64(s.CallbackPanics) }))
	add("logs_dropped_total", "Log lines dropped because the Logger fell behind.", counter,
		always(func(s *watchdog.Stats) float64 { return float64(s.LogsDropped) }))
	return c
}

// Describe sends the descriptors of every metric the Collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	if s.Driver != "" {
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, s.Driver, s.Source)
	}
	for _, m := range c.metrics {
		if v, ok := m.value(&s); ok {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// limit converts a soft limit, math.MaxInt64 meaning none, to a gauge value.
func limit(n int64) float64 {
	if n == math.MaxInt64 {
		return math.Inf(1)
	}
	return float64(n)
}

// stamp exports a time as Unix seconds, and nothing for the zero time.
func stamp(f func(s *watchdog.Stats) time.Time) func(s *watchdog.Stats) (float64, bool) {
	return func(s *watchdog.Stats) (float64, bool) {
		t := f(s)
		if t.IsZero() {
			return 0, false
		}
		return float64(t.Unix()) + float64(t.Nanosecond())/1e9, true
	}
}
