package watchdogprom

import (
	"math"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	watchdog "github.com/raulk/go-watchdog"
)

// fieldMetrics names the series of each Stats field, without the
// namespace. A field added to Stats without an entry here or in notExported
// fails TestEveryStatsFieldHasAMetric.
var fieldMetrics = map[string]string{
	"Running": "running", "Driver": "info", "Source": "info", "Started": "start_time_seconds",
	"Limit": "limit_bytes", "Usage": "usage_bytes", "Threshold": "threshold_bytes",
	"LastForcedGC": "last_forced_gc_timestamp_seconds", "Events": "kernel_wakeups_total",
	"Samples": "samples_total", "ReadErrors": "read_errors_total", "LastSample": "last_sample_timestamp_seconds",
	"Reclaimable": "reclaimable_bytes", "Reserve": "reserve_bytes", "UserSoftLimit": "user_soft_limit_bytes",
	"ForcedGCsDeferred": "forced_gcs_deferred_total", "CallbackPanics": "callback_panics_total",
	"LogsDropped": "logs_dropped_total", "Pressure": "pressure_level", "BeyondGC": "beyond_gc",
	"EventsDropped": "events_dropped_total",

	"ForcedGCs":          `events_total{kind="gc_forced"}`,
	"ThresholdCrossings": `events_total{kind="threshold_crossed"}`,
	"GCsIneffective":     `events_total{kind="gc_ineffective"}`,
	"PressureChanges":    `events_total{kind="pressure_changed"}`,
	"LimitChanges":       `events_total{kind="limit_changed"}`,
	"SoftLimitChanges":   `events_total{kind="soft_limit_changed"}`,
}

// notExported are the Stats fields the Go collector already exports.
var notExported = map[string]string{
	"GOGC":      "go_gc_gogc_percent",
	"SoftLimit": "go_gc_gomemlimit_bytes",
	"GCs":       "go_gc_duration_seconds_count",
}

func fixed(s watchdog.Stats) *Collector {
	c := NewCollector()
	c.snapshot = func() watchdog.Stats { return s }
	return c
}

// running has every field set, so that every metric is exported.
var running = watchdog.Stats{
	Running: true, Driver: "cgroup", Source: "cgroup v2 /sys/fs/cgroup/kubepods.slice/kubepods-pod1234.slice/cri-containerd-abcdef.scope",
	Started: time.Unix(1700000000, 500_000_000), Limit: 1 << 30, Usage: 600 << 20, Threshold: 700 << 20,
	SoftLimit: 900 << 20, GOGC: 100, GCs: 42, ForcedGCs: 3, LastForcedGC: time.Unix(1700000100, 0),
	Events: 5, Samples: 1000, ReadErrors: 1, LastSample: time.Unix(1700000200, 250_000_000),
	Reclaimable: 10 << 20, Reserve: 64 << 20, UserSoftLimit: 960 << 20, ForcedGCsDeferred: 2,
	CallbackPanics: 1, LogsDropped: 7, Pressure: watchdog.PressureModerate, BeyondGC: true,
	ThresholdCrossings: 4, GCsIneffective: 6, PressureChanges: 8, LimitChanges: 9, SoftLimitChanges: 10,
	EventsDropped: 11,
}

const (
	runExposition = `
# HELP watchdog_callback_panics_total Panics recovered from the program's callbacks (policies, notifees, ForcedGCFunc, the Logger) since the watchdog started.
# TYPE watchdog_callback_panics_total counter
watchdog_callback_panics_total 1
# HELP watchdog_events_dropped_total Events not delivered to a watchdog.Subscribe channel because it was full, since the watchdog started.
# TYPE watchdog_events_dropped_total counter
watchdog_events_dropped_total 11
# HELP watchdog_events_total Events of each kind since the watchdog started: gc_forced (GCs the watchdog forced), threshold_crossed, gc_ineffective (usage still at or above the threshold after a GC), pressure_changed, limit_changed, soft_limit_changed (the watchdog changed the Go soft memory limit).
# TYPE watchdog_events_total counter
watchdog_events_total{kind="gc_forced"} 3
watchdog_events_total{kind="gc_ineffective"} 6
watchdog_events_total{kind="limit_changed"} 9
watchdog_events_total{kind="pressure_changed"} 8
watchdog_events_total{kind="soft_limit_changed"} 10
watchdog_events_total{kind="threshold_crossed"} 4
# HELP watchdog_forced_gcs_deferred_total GCs the watchdog would have forced but held back, since it started: usage stayed at or above the threshold after a forced GC, so the next waits for the polling period or for the heap to grow.
# TYPE watchdog_forced_gcs_deferred_total counter
watchdog_forced_gcs_deferred_total 2
# HELP watchdog_info Always 1, for the labels: driver is heap, cgroup or system; source is where usage is read: cgroup v1, cgroup v2, system or heap. Absent until a watchdog has run.
# TYPE watchdog_info gauge
watchdog_info{driver="cgroup",source="cgroup v2"} 1
# HELP watchdog_kernel_wakeups_total Kernel notifications (cgroup usage thresholds, memory pressure) that woke the watchdog to measure usage early, since it started.
# TYPE watchdog_kernel_wakeups_total counter
watchdog_kernel_wakeups_total 5
# HELP watchdog_last_forced_gc_timestamp_seconds When the last GC the watchdog forced started, as a Unix time. Absent if it forced none.
# TYPE watchdog_last_forced_gc_timestamp_seconds gauge
watchdog_last_forced_gc_timestamp_seconds 1.7000001e+09
# HELP watchdog_last_sample_timestamp_seconds When the watchdog last measured usage, as a Unix time. Absent if it never did.
# TYPE watchdog_last_sample_timestamp_seconds gauge
watchdog_last_sample_timestamp_seconds 1.70000020025e+09
# HELP watchdog_logs_dropped_total Log lines dropped because the Logger fell behind, since the watchdog started.
# TYPE watchdog_logs_dropped_total counter
watchdog_logs_dropped_total 7
# HELP watchdog_read_errors_total Usage measurements that failed to read the source, since the watchdog started.
# TYPE watchdog_read_errors_total counter
watchdog_read_errors_total 1
# HELP watchdog_running 1 while a watchdog runs, 0 otherwise.
# TYPE watchdog_running gauge
watchdog_running %s
# HELP watchdog_samples_total Usage measurements (on the timer or a kernel notification) since the watchdog started.
# TYPE watchdog_samples_total counter
watchdog_samples_total 1000
# HELP watchdog_start_time_seconds When the watchdog started, as a Unix time; its counters count from then.
# TYPE watchdog_start_time_seconds gauge
watchdog_start_time_seconds 1.7000000005e+09
`
	stateExposition = `
# HELP watchdog_beyond_gc 1 while GC cannot make room: the memory outside the Go runtime, the runtime's overhead and the live heap leave the heap too little room under the limit, so the watchdog leaves the soft memory limit to the program; 0 otherwise.
# TYPE watchdog_beyond_gc gauge
watchdog_beyond_gc 1
# HELP watchdog_limit_bytes The memory limit the watchdog keeps usage under: the smallest cgroup memory limit on the process's path (cgroup driver), the system's limit (system driver) or the heap limit (heap driver). Absent while the cgroup has no limit.
# TYPE watchdog_limit_bytes gauge
watchdog_limit_bytes 1.073741824e+09
# HELP watchdog_pressure_level Memory pressure: 0 none; 1 moderate, the memory GC cannot free (outside the Go runtime, the runtime's overhead, the live heap) at 80% of the limit or more, until under 75%; 2 critical, from 90% until under 85%, or while watchdog_beyond_gc is 1.
# TYPE watchdog_pressure_level gauge
watchdog_pressure_level 1
# HELP watchdog_reclaimable_bytes Memory left out of watchdog_usage_bytes at the last measurement because the kernel frees it before an OOM kill: the cgroup's file cache (active and inactive, dirty and under writeback included) and the freed parts of huge pages still charged. Cgroup driver only.
# TYPE watchdog_reclaimable_bytes gauge
watchdog_reclaimable_bytes 1.048576e+07
# HELP watchdog_reserve_bytes Room the watchdog keeps between the Go soft memory limit it sets and watchdog_limit_bytes: a share of the limit, raised while memory outside the Go runtime keeps growing. Absent while the watchdog does not manage the soft limit or there is no limit.
# TYPE watchdog_reserve_bytes gauge
watchdog_reserve_bytes 6.7108864e+07
# HELP watchdog_threshold_bytes Usage at which the watchdog forces the next GC (heap driver: the heap size the GC pacer is told to target). Absent while there is none: no limit, the policy disabled, or the heap driver before its first GC.
# TYPE watchdog_threshold_bytes gauge
watchdog_threshold_bytes 7.340032e+08
# HELP watchdog_usage_bytes Usage at the watchdog's last measurement, what it compares with the threshold and the limit: the cgroup's usage less its file cache and the other memory counted in watchdog_reclaimable_bytes (cgroup driver; not Kubernetes' working set, which counts the active file cache), MemTotal less MemAvailable (system driver), the Go heap marked live by the last GC (heap driver).
# TYPE watchdog_usage_bytes gauge
watchdog_usage_bytes 6.291456e+08
# HELP watchdog_user_soft_limit_bytes The Go soft memory limit the program set itself (GOMEMLIMIT, debug.SetMemoryLimit): the ceiling of the soft limit the watchdog sets in its place (go_gc_gomemlimit_bytes), restored when it stops. Absent while the program set none or the watchdog does not manage the soft limit.
# TYPE watchdog_user_soft_limit_bytes gauge
watchdog_user_soft_limit_bytes 1.00663296e+09
`
)

// gather collects c in a pedantic registry, which also checks that every
// metric was described and is consistent.
func gather(t *testing.T, cs ...prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns a gauge's or counter's value.
func value(m *dto.Metric) float64 {
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestCollectRunning(t *testing.T) {
	want := strings.Replace(runExposition, "%s", "1", 1) + stateExposition
	if err := testutil.CollectAndCompare(fixed(running), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestCollectNeverRan(t *testing.T) {
	c := fixed(watchdog.Stats{})
	err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP watchdog_running 1 while a watchdog runs, 0 otherwise.
# TYPE watchdog_running gauge
watchdog_running 0
`))
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 1 {
		t.Fatalf("a never-run watchdog exports %d series, want only watchdog_running", n)
	}
}

// A stopped watchdog keeps its identity, start time, counters and
// timestamps; the gauges of its state are gone.
func TestCollectStopped(t *testing.T) {
	s := running
	s.Running = false
	want := strings.Replace(runExposition, "%s", "0", 1)
	if err := testutil.CollectAndCompare(fixed(s), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// A value that means "none" is absent, not 0 or +Inf.
func TestNoPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(s *watchdog.Stats)
		absent []string
	}{
		{"no limit", func(s *watchdog.Stats) { s.Limit, s.Threshold = 0, watchdog.PolicyTempDisabled },
			[]string{"limit_bytes", "threshold_bytes", "reserve_bytes"}},
		{"policy disabled", func(s *watchdog.Stats) { s.Threshold = watchdog.PolicyTempDisabled },
			[]string{"threshold_bytes"}},
		{"soft limit not managed", func(s *watchdog.Stats) { s.SoftLimit, s.UserSoftLimit, s.Reserve = 0, 0, 0 },
			[]string{"reserve_bytes", "user_soft_limit_bytes"}},
		{"no soft limit of the program's", func(s *watchdog.Stats) { s.UserSoftLimit = math.MaxInt64 },
			[]string{"user_soft_limit_bytes"}},
		{"system driver", func(s *watchdog.Stats) { s.Driver, s.Source, s.Reclaimable = "system", "system", 0 },
			[]string{"reclaimable_bytes"}},
		{"heap driver before its first GC", func(s *watchdog.Stats) {
			*s = watchdog.Stats{Running: true, Driver: "heap", Started: s.Started, Limit: 1 << 30,
				Threshold: watchdog.PolicyTempDisabled, GOGC: 100}
		}, []string{"threshold_bytes", "reclaimable_bytes", "reserve_bytes", "user_soft_limit_bytes",
			"usage_bytes", "last_sample_timestamp_seconds", "last_forced_gc_timestamp_seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := running
			tc.edit(&s)
			mfs := gather(t, fixed(s))
			got := map[string]bool{}
			for _, mf := range mfs {
				got[strings.TrimPrefix(mf.GetName(), Namespace+"_")] = true
				for _, m := range mf.GetMetric() {
					if v := value(m); math.IsInf(v, 0) || math.IsNaN(v) {
						t.Errorf("%s = %v", mf.GetName(), v)
					}
				}
			}
			for _, n := range tc.absent {
				if got[n] {
					t.Errorf("%s_%s exported; want it absent", Namespace, n)
				}
			}
			// Everything else of a running watchdog stays.
			for _, n := range fieldMetrics {
				n, _, _ = strings.Cut(n, "{")
				if !got[n] && !contains(tc.absent, n) {
					t.Errorf("%s_%s missing", Namespace, n)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The collector fits beside client_golang's Go collector: one registry
// takes both, every series of its own is under watchdog_, and none repeats
// what the Go collector exports.
func TestBesideGoCollector(t *testing.T) {
	// Runtime settings the Go collector reports, set to values no other
	// field of the snapshot has.
	defer debug.SetGCPercent(debug.SetGCPercent(137))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(5<<30 + 12345))
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	goc := collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll))

	// The Stats fields that mirror the runtime hold what the Go collector
	// reports.
	rt := map[string]float64{}
	for _, mf := range gather(t, goc) {
		switch mf.GetName() {
		case "go_gc_gogc_percent", "go_gc_gomemlimit_bytes":
			rt[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
		case "go_gc_duration_seconds":
			rt[mf.GetName()+"_count"] = float64(mf.GetMetric()[0].GetSummary().GetSampleCount())
		}
	}
	if rt["go_gc_gogc_percent"] != 137 || rt["go_gc_gomemlimit_bytes"] != 5<<30+12345 || rt["go_gc_duration_seconds_count"] < 3 {
		t.Fatalf("the Go collector reports %v", rt)
	}
	s := running
	s.GOGC = int(rt["go_gc_gogc_percent"])
	s.SoftLimit = int64(rt["go_gc_gomemlimit_bytes"])
	s.GCs = uint64(rt["go_gc_duration_seconds_count"])
	// The rest of the snapshot: values none of those can equal.
	s.ForcedGCs, s.Events, s.Samples, s.ReadErrors = 1001, 1002, 1003, 1004
	s.ForcedGCsDeferred, s.CallbackPanics, s.LogsDropped, s.EventsDropped = 1005, 1006, 1007, 1008
	s.ThresholdCrossings, s.GCsIneffective, s.PressureChanges, s.LimitChanges, s.SoftLimitChanges = 1009, 1010, 1011, 1012, 1013
	if s.GCs >= 1000 {
		t.Skipf("%d GC cycles: too many for the fixture's counters to differ", s.GCs)
	}

	// Described and collected consistently, no name clash (the pedantic
	// registry fails on either).
	mfs := gather(t, goc, fixed(s))
	var own int
	for _, mf := range mfs {
		name := mf.GetName()
		if strings.HasPrefix(name, "go_") {
			continue
		}
		own++
		if !strings.HasPrefix(name, "watchdog_") {
			t.Errorf("%s: not under watchdog_", name)
		}
		// By meaning: no GOGC, no soft limit in force, no GC cycle count.
		for _, dup := range []string{"gogc", "gomemlimit", "gcs_total", "gc_cycles", "gc_duration"} {
			if strings.Contains(name, dup) {
				t.Errorf("%s repeats the Go collector's %s", name, dup)
			}
		}
		if strings.Contains(name, "soft_limit") && name != "watchdog_user_soft_limit_bytes" {
			t.Errorf("%s repeats go_gc_gomemlimit_bytes", name)
		}
		// By value: none carries GOGC, the soft limit or the GC count.
		for _, m := range mf.GetMetric() {
			for rtName, v := range rt {
				if value(m) == v {
					t.Errorf("%s%v = %v, the value of %s", name, m.GetLabel(), v, rtName)
				}
			}
		}
	}
	if want := len(gather(t, fixed(s))); own != want {
		t.Errorf("%d watchdog families beside the Go collector, %d alone", own, want)
	}
}

// Label values come from small fixed sets: the cgroup's path, which names
// pods and containers, never becomes one.
func TestLabelValuesBounded(t *testing.T) {
	for _, tc := range []struct{ driver, source, want string }{
		{"", "", ""},
		{"heap", "", "heap"},
		{"system", "system", "system"},
		{"cgroup", "cgroup v1 /sys/fs/cgroup/memory/docker/0123456789abcdef", "cgroup v1"},
		{"cgroup", "cgroup v2 /sys/fs/cgroup/kubepods.slice/kubepods-burstable-pod0a1b.slice/cri-containerd-9f8e.scope", "cgroup v2"},
		{"cgroup", "cgroup v2 /", "cgroup v2"},
		{"cgroup", "cgroup (unsupported)", "other"},
		{"cgroup", "something new /with/a/path", "other"},
	} {
		if got := sourceKind(watchdog.Stats{Driver: tc.driver, Source: tc.source}); got != tc.want {
			t.Errorf("sourceKind(%q, %q) = %q, want %q", tc.driver, tc.source, got, tc.want)
		}
	}

	allowed := map[string]map[string]bool{
		"driver": {"heap": true, "cgroup": true, "system": true},
		"source": {"heap": true, "cgroup v1": true, "cgroup v2": true, "system": true, "other": true},
		"kind":   {},
	}
	for _, e := range eventKinds {
		allowed["kind"][e.kind.String()] = true
	}
	for _, driver := range []string{"heap", "cgroup", "system"} {
		s := running
		s.Driver = driver
		for _, mf := range gather(t, fixed(s)) {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if !allowed[l.GetName()][l.GetValue()] {
						t.Errorf("%s{%s=%q}: not a bounded label value", mf.GetName(), l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
	if len(allowed["kind"]) != 6 {
		t.Errorf("%d event kinds, want the 6 that Stats counts", len(allowed["kind"]))
	}
}

func TestLint(t *testing.T) {
	stopped := running
	stopped.Running = false
	for _, s := range []watchdog.Stats{running, stopped, {}} {
		problems, err := testutil.CollectAndLint(fixed(s))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// Names carry their unit, and help texts say what the number is.
func TestHelpAndUnits(t *testing.T) {
	unitless := map[string]bool{"watchdog_running": true, "watchdog_info": true,
		"watchdog_pressure_level": true, "watchdog_beyond_gc": true}
	for _, mf := range gather(t, fixed(running)) {
		name, help := mf.GetName(), mf.GetHelp()
		if len(help) < 30 || !strings.HasSuffix(help, ".") {
			t.Errorf("%s: help %q is not a sentence", name, help)
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") || !strings.Contains(help, "since") {
				t.Errorf("%s: a counter ends in _total and says since when it counts", name)
			}
		case dto.MetricType_GAUGE:
			switch {
			case strings.HasSuffix(name, "_bytes"):
			case strings.HasSuffix(name, "_seconds"):
				if !strings.Contains(help, "Unix time") {
					t.Errorf("%s: help does not say it is a Unix time", name)
				}
			case !unitless[name]:
				t.Errorf("%s: a gauge without a unit suffix", name)
			}
		default:
			t.Errorf("%s: type %v", name, mf.GetType())
		}
		if strings.Contains(help, "working set") && !strings.Contains(help, "not Kubernetes' working set") {
			t.Errorf("%s: help calls usage a working set", name)
		}
	}
}

// Counters carry the watchdog's start as their created timestamp, so that
// a restart reads as a reset.
func TestCountersCreatedAtStart(t *testing.T) {
	var n int
	for _, mf := range gather(t, fixed(running)) {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				n++
				if got := c.GetCreatedTimestamp().AsTime(); !got.Equal(running.Started) {
					t.Errorf("%s%v created %v, want %v", mf.GetName(), m.GetLabel(), got, running.Started)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no counters")
	}
}

func TestEveryStatsFieldHasAMetric(t *testing.T) {
	exported := map[string]bool{}
	for _, mf := range gather(t, fixed(running)) {
		name := strings.TrimPrefix(mf.GetName(), Namespace+"_")
		exported[name] = true
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					exported[name+`{kind="`+l.GetValue()+`"}`] = true
				}
			}
		}
	}
	typ := reflect.TypeOf(watchdog.Stats{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		if _, ok := notExported[name]; ok {
			continue
		}
		m, ok := fieldMetrics[name]
		if !ok {
			t.Errorf("Stats.%s has no metric: add one to collector.go and to fieldMetrics (or to notExported, with the series that has it)", name)
			continue
		}
		if !exported[m] {
			t.Errorf("Stats.%s: %s_%s is not exported", name, Namespace, m)
		}
	}
	// And nothing exported that no field explains.
	want := map[string]bool{}
	for _, m := range fieldMetrics {
		want[m] = true
		if n, _, ok := strings.Cut(m, "{"); ok {
			want[n] = true
		}
	}
	var extra []string
	for n := range exported {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("exported without a Stats field in fieldMetrics: %v", extra)
	}
}
