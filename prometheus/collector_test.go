package watchdogprom

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	watchdog "github.com/raulk/go-watchdog"
)

// fieldMetrics names the metric of each Stats field. A field added to Stats
// without a metric fails TestEveryStatsFieldHasAMetric.
var fieldMetrics = map[string]string{
	"Running": "running", "Driver": "info", "Source": "info", "Started": "start_time_seconds",
	"Limit": "limit_bytes", "Usage": "usage_bytes", "Threshold": "threshold_bytes", "SoftLimit": "soft_limit_bytes",
	"GOGC": "gogc", "GCs": "gcs_total", "ForcedGCs": "forced_gcs_total", "LastForcedGC": "last_forced_gc_timestamp_seconds",
	"Events": "events_total", "Samples": "samples_total", "ReadErrors": "read_errors_total",
	"LastSample": "last_sample_timestamp_seconds", "Reclaimable": "reclaimable_bytes", "Reserve": "reserve_bytes",
	"UserSoftLimit": "user_soft_limit_bytes", "ForcedGCsDeferred": "forced_gcs_deferred_total",
	"ForcedGCsAvoided": "forced_gcs_avoided_total", "CallbackPanics": "callback_panics_total", "LogsDropped": "logs_dropped_total",
}

func fixed(s watchdog.Stats) *Collector {
	c := NewCollector()
	c.snapshot = func() watchdog.Stats { return s }
	return c
}

var running = watchdog.Stats{
	Running: true, Driver: "cgroup", Source: "cgroup v2 /sys/fs/cgroup/app",
	Started: time.Unix(1700000000, 500_000_000), Limit: 1 << 30, Usage: 600 << 20, Threshold: 700 << 20,
	SoftLimit: 900 << 20, GOGC: 100, GCs: 42, ForcedGCs: 3, LastForcedGC: time.Unix(1700000100, 0),
	Events: 5, Samples: 1000, ReadErrors: 1, LastSample: time.Unix(1700000200, 250_000_000),
	Reclaimable: 10 << 20, Reserve: 64 << 20, UserSoftLimit: math.MaxInt64, ForcedGCsDeferred: 2,
	ForcedGCsAvoided: 4, CallbackPanics: 1, LogsDropped: 7,
}

const runningExposition = `
# HELP go_watchdog_callback_panics_total Panics recovered from the program's callbacks (policies, notifees, ForcedGCFunc, Logger).
# TYPE go_watchdog_callback_panics_total counter
go_watchdog_callback_panics_total 1
# HELP go_watchdog_events_total Kernel memory events (cgroup thresholds, pressure) that woke the watchdog.
# TYPE go_watchdog_events_total counter
go_watchdog_events_total 5
# HELP go_watchdog_forced_gcs_avoided_total Threshold crossings left to the runtime's own GC, due before usage neared the limit, after which no forced GC was needed.
# TYPE go_watchdog_forced_gcs_avoided_total counter
go_watchdog_forced_gcs_avoided_total 4
# HELP go_watchdog_forced_gcs_deferred_total Forced GCs held back because usage stayed above the threshold after a forced GC.
# TYPE go_watchdog_forced_gcs_deferred_total counter
go_watchdog_forced_gcs_deferred_total 2
# HELP go_watchdog_forced_gcs_total GCs the watchdog forced.
# TYPE go_watchdog_forced_gcs_total counter
go_watchdog_forced_gcs_total 3
# HELP go_watchdog_gcs_total GC cycles completed since the watchdog started.
# TYPE go_watchdog_gcs_total counter
go_watchdog_gcs_total 42
# HELP go_watchdog_gogc GOGC in force at the last measurement; -1 when GC is off.
# TYPE go_watchdog_gogc gauge
go_watchdog_gogc 100
# HELP go_watchdog_info The watchdog's driver (heap, cgroup or system) and usage source; absent until a watchdog has run.
# TYPE go_watchdog_info gauge
go_watchdog_info{driver="cgroup",source="cgroup v2 /sys/fs/cgroup/app"} 1
# HELP go_watchdog_last_forced_gc_timestamp_seconds When the last forced GC started, as a Unix time; absent if none.
# TYPE go_watchdog_last_forced_gc_timestamp_seconds gauge
go_watchdog_last_forced_gc_timestamp_seconds 1.7000001e+09
# HELP go_watchdog_last_sample_timestamp_seconds When usage was last measured, as a Unix time; absent if never.
# TYPE go_watchdog_last_sample_timestamp_seconds gauge
go_watchdog_last_sample_timestamp_seconds 1.70000020025e+09
# HELP go_watchdog_limit_bytes The memory limit the watchdog enforces.
# TYPE go_watchdog_limit_bytes gauge
go_watchdog_limit_bytes 1.073741824e+09
# HELP go_watchdog_logs_dropped_total Log lines dropped because the Logger fell behind.
# TYPE go_watchdog_logs_dropped_total counter
go_watchdog_logs_dropped_total 7
# HELP go_watchdog_read_errors_total Usage measurements that failed.
# TYPE go_watchdog_read_errors_total counter
go_watchdog_read_errors_total 1
# HELP go_watchdog_reclaimable_bytes Memory the kernel frees before an OOM kill (clean file cache, freed parts of huge pages) left out of usage at the last measurement (cgroup driver).
# TYPE go_watchdog_reclaimable_bytes gauge
go_watchdog_reclaimable_bytes 1.048576e+07
# HELP go_watchdog_reserve_bytes Headroom the soft limit keeps under the limit; 0 when the soft limit is not managed.
# TYPE go_watchdog_reserve_bytes gauge
go_watchdog_reserve_bytes 6.7108864e+07
# HELP go_watchdog_running 1 while a watchdog runs, 0 otherwise.
# TYPE go_watchdog_running gauge
go_watchdog_running 1
# HELP go_watchdog_samples_total Usage measurements taken.
# TYPE go_watchdog_samples_total counter
go_watchdog_samples_total 1000
# HELP go_watchdog_soft_limit_bytes The Go soft memory limit the watchdog set; 0 when it does not manage it, +Inf for no limit.
# TYPE go_watchdog_soft_limit_bytes gauge
go_watchdog_soft_limit_bytes 9.437184e+08
# HELP go_watchdog_start_time_seconds When the watchdog started, as a Unix time.
# TYPE go_watchdog_start_time_seconds gauge
go_watchdog_start_time_seconds 1.7000000005e+09
# HELP go_watchdog_threshold_bytes Usage at which the next GC is forced; +Inf while the policy is disabled.
# TYPE go_watchdog_threshold_bytes gauge
go_watchdog_threshold_bytes 7.340032e+08
# HELP go_watchdog_usage_bytes Usage at the last measurement: the cgroup's working set, the system's used memory, or the live heap in heap mode.
# TYPE go_watchdog_usage_bytes gauge
go_watchdog_usage_bytes 6.291456e+08
# HELP go_watchdog_user_soft_limit_bytes The soft memory limit the program set itself (GOMEMLIMIT), the watchdog's ceiling; +Inf for none, 0 when the soft limit is not managed.
# TYPE go_watchdog_user_soft_limit_bytes gauge
go_watchdog_user_soft_limit_bytes +Inf
`

func TestCollectRunning(t *testing.T) {
	if err := testutil.CollectAndCompare(fixed(running), strings.NewReader(runningExposition)); err != nil {
		t.Fatal(err)
	}
}

func TestCollectNeverRan(t *testing.T) {
	c := fixed(watchdog.Stats{})
	// No info metric and no timestamps before any watchdog ran.
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP go_watchdog_running 1 while a watchdog runs, 0 otherwise.
# TYPE go_watchdog_running gauge
go_watchdog_running 0
`), "go_watchdog_running", "go_watchdog_info", "go_watchdog_start_time_seconds",
		"go_watchdog_last_sample_timestamp_seconds", "go_watchdog_last_forced_gc_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != len(fieldMetrics)-2-3 {
		t.Fatalf("a never-run watchdog exports %d metrics, want every field's less info and the 3 timestamps", n)
	}
}

func TestCollectDisabledPolicy(t *testing.T) {
	s := running
	s.Threshold = watchdog.PolicyTempDisabled
	s.SoftLimit, s.UserSoftLimit = 0, 0 // not managed
	err := testutil.CollectAndCompare(fixed(s), strings.NewReader(`
# HELP go_watchdog_threshold_bytes Usage at which the next GC is forced; +Inf while the policy is disabled.
# TYPE go_watchdog_threshold_bytes gauge
go_watchdog_threshold_bytes +Inf
# HELP go_watchdog_soft_limit_bytes The Go soft memory limit the watchdog set; 0 when it does not manage it, +Inf for no limit.
# TYPE go_watchdog_soft_limit_bytes gauge
go_watchdog_soft_limit_bytes 0
`), "go_watchdog_threshold_bytes", "go_watchdog_soft_limit_bytes")
	if err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(fixed(running))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestPedanticRegistry(t *testing.T) {
	// The pedantic registry checks that what is collected was described.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(fixed(running))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != len(fieldMetrics)-1 {
		t.Fatalf("gathered %d metric families, want %d", len(mfs), len(fieldMetrics)-1)
	}
}

func TestEveryStatsFieldHasAMetric(t *testing.T) {
	exported := map[string]bool{}
	mfs, err := func() ([]string, error) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(fixed(running))
		got, err := reg.Gather()
		var names []string
		for _, mf := range got {
			names = append(names, mf.GetName())
		}
		return names, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mfs {
		exported[strings.TrimPrefix(n, Namespace+"_")] = true
	}
	typ := reflect.TypeOf(watchdog.Stats{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		m, ok := fieldMetrics[name]
		if !ok {
			t.Errorf("Stats.%s has no metric: add one to collector.go and to fieldMetrics", name)
			continue
		}
		if !exported[m] {
			t.Errorf("Stats.%s: metric %s_%s is not exported", name, Namespace, m)
		}
	}
}
