package watchdogotel

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	watchdog "github.com/raulk/go-watchdog"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// running has every field set, so that every instrument is observed.
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

// instrument is what a collection should hold for one instrument.
type instrument struct {
	unit   string
	kind   string // "gauge" (int64), "time" (float64 gauge) or "counter" (monotonic int64 sum)
	prom   string // the name OpenTelemetry's Prometheus exporter gives it: watchdogprom's
	values map[string]float64
}

// expected is the collection of running, by instrument name; values are
// keyed by the data point's attributes (see attrKey).
var expected = map[string]instrument{
	"watchdog.running":                  {"", "gauge", "watchdog_running", map[string]float64{"": 1}},
	"watchdog.info":                     {"", "gauge", "watchdog_info", map[string]float64{"driver=cgroup,source=cgroup v2": 1}},
	"watchdog.start_time":               {"s", "time", "watchdog_start_time_seconds", map[string]float64{"": 1700000000.5}},
	"watchdog.last_forced_gc.timestamp": {"s", "time", "watchdog_last_forced_gc_timestamp_seconds", map[string]float64{"": 1700000100}},
	"watchdog.last_sample.timestamp":    {"s", "time", "watchdog_last_sample_timestamp_seconds", map[string]float64{"": 1700000200.25}},
	"watchdog.limit":                    {"By", "gauge", "watchdog_limit_bytes", map[string]float64{"": 1 << 30}},
	"watchdog.usage":                    {"By", "gauge", "watchdog_usage_bytes", map[string]float64{"": 600 << 20}},
	"watchdog.threshold":                {"By", "gauge", "watchdog_threshold_bytes", map[string]float64{"": 700 << 20}},
	"watchdog.reclaimable":              {"By", "gauge", "watchdog_reclaimable_bytes", map[string]float64{"": 10 << 20}},
	"watchdog.reserve":                  {"By", "gauge", "watchdog_reserve_bytes", map[string]float64{"": 64 << 20}},
	"watchdog.user_soft_limit":          {"By", "gauge", "watchdog_user_soft_limit_bytes", map[string]float64{"": 960 << 20}},
	"watchdog.pressure.level":           {"", "gauge", "watchdog_pressure_level", map[string]float64{"": 1}},
	"watchdog.beyond_gc":                {"", "gauge", "watchdog_beyond_gc", map[string]float64{"": 1}},
	"watchdog.events": {"{event}", "counter", "watchdog_events_total", map[string]float64{
		"kind=gc_forced": 3, "kind=threshold_crossed": 4, "kind=gc_ineffective": 6,
		"kind=pressure_changed": 8, "kind=limit_changed": 9, "kind=soft_limit_changed": 10,
	}},
	"watchdog.kernel_wakeups":      {"{wakeup}", "counter", "watchdog_kernel_wakeups_total", map[string]float64{"": 5}},
	"watchdog.events.dropped":      {"{event}", "counter", "watchdog_events_dropped_total", map[string]float64{"": 11}},
	"watchdog.forced_gcs.deferred": {"{gc}", "counter", "watchdog_forced_gcs_deferred_total", map[string]float64{"": 2}},
	"watchdog.samples":             {"{sample}", "counter", "watchdog_samples_total", map[string]float64{"": 1000}},
	"watchdog.read_errors":         {"{error}", "counter", "watchdog_read_errors_total", map[string]float64{"": 1}},
	"watchdog.callback_panics":     {"{panic}", "counter", "watchdog_callback_panics_total", map[string]float64{"": 1}},
	"watchdog.logs.dropped":        {"{line}", "counter", "watchdog_logs_dropped_total", map[string]float64{"": 7}},
}

// stateGauges are observed only while a watchdog runs.
var stateGauges = []string{"watchdog.limit", "watchdog.usage", "watchdog.threshold", "watchdog.reclaimable",
	"watchdog.reserve", "watchdog.user_soft_limit", "watchdog.pressure.level", "watchdog.beyond_gc"}

// harness registers the instruments with a manual reader over a snapshot
// the test sets.
type harness struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	mu     sync.Mutex
	stats  watchdog.Stats
	calls  atomic.Int64
}

func newHarness(t *testing.T, s watchdog.Stats) *harness {
	t.Helper()
	h := &harness{t: t, reader: sdkmetric.NewManualReader(), stats: s}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() { provider.Shutdown(context.Background()) })
	if _, err := register(provider.Meter("test"), h.snapshot); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) snapshot() watchdog.Stats {
	h.calls.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

func (h *harness) set(s watchdog.Stats) {
	h.mu.Lock()
	h.stats = s
	h.mu.Unlock()
}

// collect returns the collection by instrument name.
func (h *harness) collect() map[string]metricdata.Metrics {
	h.t.Helper()
	return collect(h.t, h.reader)
}

func collect(t *testing.T, r sdkmetric.Reader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// attrKey writes an attribute set as "k=v,k=v", sorted by key.
func attrKey(s attribute.Set) string {
	var kv []string
	for _, a := range s.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.Emit())
	}
	return strings.Join(kv, ",")
}

// points returns the data points of m by attributes, and its kind.
func points(t *testing.T, m metricdata.Metrics) (map[string]float64, string) {
	t.Helper()
	pts := map[string]float64{}
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			pts[attrKey(p.Attributes)] = float64(p.Value)
		}
		return pts, "gauge"
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			pts[attrKey(p.Attributes)] = p.Value
		}
		return pts, "time"
	case metricdata.Sum[int64]:
		if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
			t.Errorf("%s: monotonic %v, temporality %v; want a monotonic cumulative sum", m.Name, d.IsMonotonic, d.Temporality)
		}
		for _, p := range d.DataPoints {
			pts[attrKey(p.Attributes)] = float64(p.Value)
		}
		return pts, "counter"
	}
	t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
	return nil, ""
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestInstruments(t *testing.T) {
	got := newHarness(t, running).collect()
	if g, w := sortedKeys(got), sortedKeys(expected); strings.Join(g, " ") != strings.Join(w, " ") {
		t.Fatalf("instruments\n got %v\nwant %v", g, w)
	}
	for name, want := range expected {
		m := got[name]
		if m.Unit != want.unit {
			t.Errorf("%s: unit %q, want %q", name, m.Unit, want.unit)
		}
		if len(m.Description) < 30 || !strings.HasSuffix(m.Description, ".") {
			t.Errorf("%s: description %q is not a sentence", name, m.Description)
		}
		if strings.Contains(m.Description, "working set") && !strings.Contains(m.Description, "not Kubernetes' working set") {
			t.Errorf("%s: calls usage a working set", name)
		}
		pts, kind := points(t, m)
		if kind != want.kind {
			t.Errorf("%s: a %s, want a %s", name, kind, want.kind)
		}
		for _, k := range sortedKeys(pts) {
			if w, ok := want.values[k]; !ok || pts[k] != w {
				t.Errorf("%s{%s} = %v, want %v", name, k, pts[k], want.values)
			}
		}
		if len(pts) != len(want.values) {
			t.Errorf("%s: %d data points, want %d", name, len(pts), len(want.values))
		}
	}
}

// The names follow OpenTelemetry's conventions, and its Prometheus exporter
// turns them into the names of watchdogprom's collector.
func TestNamesMatchThePrometheusCollector(t *testing.T) {
	for name, in := range expected {
		if !strings.HasPrefix(name, "watchdog.") || strings.ToLower(name) != name || strings.Contains(name, "_total") {
			t.Errorf("%s: not a lower-case name under watchdog. without _total", name)
		}
		prom := strings.ReplaceAll(name, ".", "_")
		switch in.unit {
		case "By":
			prom += "_bytes"
		case "s":
			prom += "_seconds"
		}
		if in.kind == "counter" {
			prom += "_total"
		}
		if prom != in.prom {
			t.Errorf("%s exports to Prometheus as %s, want %s", name, prom, in.prom)
		}
	}
}

func TestNeverRan(t *testing.T) {
	got := newHarness(t, watchdog.Stats{}).collect()
	if len(got) != 1 {
		t.Fatalf("a never-run watchdog observes %v; want only watchdog.running", sortedKeys(got))
	}
	if pts, _ := points(t, got["watchdog.running"]); len(pts) != 1 || pts[""] != 0 {
		t.Fatalf("watchdog.running = %v, want 0", pts)
	}
}

// A stopped watchdog keeps its identity, start time, counters and
// timestamps; the gauges of its state are gone.
func TestStopped(t *testing.T) {
	s := running
	s.Running = false
	got := newHarness(t, s).collect()
	for name := range expected {
		_, ok := got[name]
		if state := contains(stateGauges, name); ok == state {
			t.Errorf("%s observed %v after the watchdog stopped", name, ok)
		}
	}
	if pts, _ := points(t, got["watchdog.running"]); pts[""] != 0 {
		t.Errorf("watchdog.running = %v, want 0", pts)
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

// A value that means "none" is not observed, rather than observed as 0 or
// a huge number.
func TestNoPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(s *watchdog.Stats)
		absent []string
	}{
		{"no limit", func(s *watchdog.Stats) { s.Limit, s.Threshold = 0, watchdog.PolicyTempDisabled },
			[]string{"watchdog.limit", "watchdog.threshold", "watchdog.reserve"}},
		{"policy disabled", func(s *watchdog.Stats) { s.Threshold = watchdog.PolicyTempDisabled },
			[]string{"watchdog.threshold"}},
		{"soft limit not managed", func(s *watchdog.Stats) { s.SoftLimit, s.UserSoftLimit, s.Reserve = 0, 0, 0 },
			[]string{"watchdog.reserve", "watchdog.user_soft_limit"}},
		{"no soft limit of the program's", func(s *watchdog.Stats) { s.UserSoftLimit = math.MaxInt64 },
			[]string{"watchdog.user_soft_limit"}},
		{"system driver", func(s *watchdog.Stats) { s.Driver, s.Source, s.Reclaimable = "system", "system", 0 },
			[]string{"watchdog.reclaimable"}},
		{"heap driver before its first GC", func(s *watchdog.Stats) {
			*s = watchdog.Stats{Running: true, Driver: "heap", Started: s.Started, Limit: 1 << 30,
				Threshold: watchdog.PolicyTempDisabled, GOGC: 100}
		}, []string{"watchdog.threshold", "watchdog.reclaimable", "watchdog.reserve", "watchdog.user_soft_limit",
			"watchdog.usage", "watchdog.last_sample.timestamp", "watchdog.last_forced_gc.timestamp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := running
			tc.edit(&s)
			got := newHarness(t, s).collect()
			for name := range expected {
				if _, ok := got[name]; ok == contains(tc.absent, name) {
					t.Errorf("%s observed: %v", name, ok)
				}
			}
			for name, m := range got {
				pts, _ := points(t, m)
				for k, v := range pts {
					if math.IsInf(v, 0) || math.IsNaN(v) || v >= math.MaxInt64 {
						t.Errorf("%s{%s} = %v", name, k, v)
					}
				}
			}
		})
	}
}

// Attribute values come from small fixed sets: the cgroup's path never
// becomes one.
func TestAttributesBounded(t *testing.T) {
	for _, tc := range []struct{ driver, source, want string }{
		{"heap", "", "heap"},
		{"system", "system", "system"},
		{"cgroup", "cgroup v1 /sys/fs/cgroup/memory/docker/0123456789abcdef", "cgroup v1"},
		{"cgroup", "cgroup v2 /sys/fs/cgroup/kubepods.slice/kubepods-burstable-pod0a1b.slice/cri-containerd-9f8e.scope", "cgroup v2"},
		{"cgroup", "cgroup v2 /", "cgroup v2"},
		{"cgroup", "cgroup (unsupported)", "other"},
	} {
		s := running
		s.Driver, s.Source = tc.driver, tc.source
		pts, _ := points(t, newHarness(t, s).collect()["watchdog.info"])
		if want := "driver=" + tc.driver + ",source=" + tc.want; len(pts) != 1 || pts[want] != 1 {
			t.Errorf("%q, %q: watchdog.info %v, want {%s} 1", tc.driver, tc.source, pts, want)
		}
	}
	var kinds []string
	for k := range expected["watchdog.events"].values {
		kinds = append(kinds, strings.TrimPrefix(k, "kind="))
	}
	for _, k := range []watchdog.EventKind{watchdog.EventGCForced, watchdog.EventThresholdCrossed, watchdog.EventGCIneffective,
		watchdog.EventPressureChanged, watchdog.EventLimitChanged, watchdog.EventSoftLimitChanged} {
		if !contains(kinds, k.String()) {
			t.Errorf("kind %q is not observed", k)
		}
	}
}

// Each collection takes one snapshot, for every instrument.
func TestOneSnapshotPerCollection(t *testing.T) {
	h := newHarness(t, running)
	for i := 1; i <= 3; i++ {
		h.collect()
		if n := h.calls.Load(); n != int64(i) {
			t.Fatalf("%d collections took %d snapshots", i, n)
		}
	}
}

// The counters do not go down when another watchdog starts: the counts of
// the previous one are carried over.
func TestCountersMonotonicAcrossWatchdogs(t *testing.T) {
	forced := func(h *harness) float64 {
		pts, _ := points(t, h.collect()["watchdog.events"])
		return pts["kind=gc_forced"]
	}
	h := newHarness(t, running) // gc_forced 3
	steps := []struct {
		name   string
		edit   func(s *watchdog.Stats)
		forced float64
	}{
		{"counts grow", func(s *watchdog.Stats) { s.ForcedGCs = 5 }, 5},
		{"stopped", func(s *watchdog.Stats) { s.Running = false }, 5},
		{"another watchdog", func(s *watchdog.Stats) {
			s.Running, s.Started, s.ForcedGCs = true, s.Started.Add(time.Minute), 1
		}, 6},
		{"it counts on", func(s *watchdog.Stats) { s.ForcedGCs = 4 }, 9},
		{"restart at the same start time", func(s *watchdog.Stats) { s.ForcedGCs = 2 }, 11},
	}
	s := running
	if got := forced(h); got != 3 {
		t.Fatalf("gc_forced %v, want 3", got)
	}
	for _, st := range steps {
		st.edit(&s)
		h.set(s)
		if got := forced(h); got != st.forced {
			t.Fatalf("%s: gc_forced %v, want %v", st.name, got, st.forced)
		}
	}
}

// Readers may collect at the same time (run with -race).
func TestConcurrentReaders(t *testing.T) {
	readers := []*sdkmetric.ManualReader{sdkmetric.NewManualReader(), sdkmetric.NewManualReader()}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(readers[0]), sdkmetric.WithReader(readers[1]))
	defer provider.Shutdown(context.Background())
	var n atomic.Uint64
	if _, err := register(provider.Meter("test"), func() watchdog.Stats {
		s := running
		s.Samples = n.Add(1)
		return s
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var rm metricdata.ResourceMetrics
				if err := r.Collect(context.Background(), &rm); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestUnregister(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	reg, err := register(provider.Meter("test"), func() watchdog.Stats { return running })
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reader); len(got) != len(expected) {
		t.Fatalf("%d instruments observed, want %d", len(got), len(expected))
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, reader); len(got) != 0 {
		t.Fatalf("observed after Unregister: %v", sortedKeys(got))
	}
}
