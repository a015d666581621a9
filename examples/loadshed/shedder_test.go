package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {-time.Second, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {time.Minute, "60"}} {
		if got := NewShedder(c.d).retryAfter; got != c.want {
			t.Errorf("NewShedder(%v): Retry-After %q, want %q", c.d, got, c.want)
		}
	}
}

// TestMiddleware sets the level by hand, as Follow would, and checks that
// only critical pressure refuses requests.
func TestMiddleware(t *testing.T) {
	s := NewShedder(3 * time.Second)
	called := 0
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called++
		io.WriteString(w, "served")
	}))
	for _, level := range []watchdog.Pressure{
		watchdog.PressureNone, watchdog.PressureModerate, watchdog.PressureCritical,
		watchdog.PressureModerate, watchdog.PressureNone,
	} {
		s.level.Store(int32(level))
		before := called
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		retry := rec.Header().Get("Retry-After")
		if level == watchdog.PressureCritical {
			if rec.Code != http.StatusServiceUnavailable || retry != "3" || called != before {
				t.Errorf("at %v: status %d, Retry-After %q, handler called %d times; want 503, \"3\", not called",
					level, rec.Code, retry, called-before)
			}
			continue
		}
		if rec.Code != http.StatusOK || retry != "" || called != before+1 || rec.Body.String() != "served" {
			t.Errorf("at %v: status %d, Retry-After %q, body %q; want the handler's 200 without Retry-After",
				level, rec.Code, retry, rec.Body.String())
		}
	}
}

// TestRoutesUnderCriticalPressure: the endpoints that take memory are shed,
// those that free memory or report health are not.
func TestRoutesUnderCriticalPressure(t *testing.T) {
	s := NewShedder(time.Second)
	h := newHandler(s)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	if rec := do("PUT", "/blobs/a", "hello"); rec.Code != http.StatusOK {
		t.Fatalf("PUT at no pressure: %d %s", rec.Code, rec.Body)
	}
	s.level.Store(int32(watchdog.PressureCritical))
	for _, r := range []struct {
		method, path string
		want         int
	}{
		{"PUT", "/blobs/b", http.StatusServiceUnavailable},
		{"GET", "/work", http.StatusServiceUnavailable},
		{"GET", "/healthz", http.StatusOK},
		{"DELETE", "/blobs/a", http.StatusNoContent},
		{"DELETE", "/blobs", http.StatusNoContent},
	} {
		rec := do(r.method, r.path, "x")
		if rec.Code != r.want {
			t.Errorf("%s %s at critical pressure: %d, want %d", r.method, r.path, rec.Code, r.want)
		}
		if r.path == "/healthz" && rec.Body.String() != "ok pressure=critical\n" {
			t.Errorf("GET /healthz: %q", rec.Body)
		}
	}
}

// TestFollow feeds Follow scripted event streams, as Subscribe would deliver
// them, and checks the level it ends with. No watchdog runs in this
// process, so Follow starts from none.
func TestFollow(t *testing.T) {
	ev := func(kind watchdog.EventKind, p watchdog.Pressure) watchdog.Event {
		return watchdog.Event{Kind: kind, Pressure: p}
	}
	const (
		none     = watchdog.PressureNone
		moderate = watchdog.PressureModerate
		critical = watchdog.PressureCritical
	)
	for _, c := range []struct {
		name   string
		events []watchdog.Event
		want   watchdog.Pressure
	}{
		{"no events", nil, none},
		{"rising to critical", []watchdog.Event{ev(watchdog.EventPressureChanged, moderate), ev(watchdog.EventPressureChanged, critical)}, critical},
		{"other events at critical", []watchdog.Event{ev(watchdog.EventPressureChanged, critical), ev(watchdog.EventGCForced, critical), ev(watchdog.EventGCIneffective, critical)}, critical},
		{"falling back", []watchdog.Event{ev(watchdog.EventPressureChanged, critical), ev(watchdog.EventPressureChanged, moderate)}, moderate},
		{"a lost pressure_changed, then a GC", []watchdog.Event{ev(watchdog.EventGCForced, critical)}, critical},
		{"the watchdog stops at critical", []watchdog.Event{ev(watchdog.EventPressureChanged, critical), ev(watchdog.EventStopped, critical)}, none},
	} {
		s := NewShedder(time.Second)
		ch := make(chan watchdog.Event, len(c.events))
		for _, e := range c.events {
			ch <- e
		}
		close(ch)
		s.Follow(ch) // returns once the closed channel is drained
		if got := s.Level(); got != c.want {
			t.Errorf("%s: level %v, want %v", c.name, got, c.want)
		}
	}
}

// TestFollowCollectsWhileCritical: at critical pressure Follow runs GCs, so
// that the watchdog sees memory freed since; at other levels it runs none.
func TestFollowCollectsWhileCritical(t *testing.T) {
	gcs := func() uint32 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.NumGC
	}
	s := NewShedder(time.Second)
	s.recheck = 10 * time.Millisecond
	events := make(chan watchdog.Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Follow(events)
	}()
	events <- watchdog.Event{Kind: watchdog.EventPressureChanged, Pressure: watchdog.PressureCritical}
	from := gcs()
	for deadline := time.Now().Add(30 * time.Second); gcs() < from+3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d GCs in 30 s at critical pressure with a 10 ms recheck period", gcs()-from)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(events)
	<-done
}

// BenchmarkLevel compares what a request pays to learn the level: the
// Shedder's atomic load against watchdog.Snapshot, under parallel requests.
// A watchdog runs (heap-driven, with a limit far above this process's heap)
// so that Snapshot takes its locks as in production.
func BenchmarkLevel(b *testing.B) {
	err, stop := watchdog.HeapDriven(1<<40, 25, watchdog.NewWatermarkPolicy(0.9))
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	s := NewShedder(time.Second)
	b.Run("atomic", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if s.Level() == watchdog.PressureCritical {
					b.Fatal("critical")
				}
			}
		})
	})
	b.Run("Snapshot", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if watchdog.Snapshot().Pressure == watchdog.PressureCritical {
					b.Fatal("critical")
				}
			}
		})
	})
}
