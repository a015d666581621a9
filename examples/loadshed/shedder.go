package main

import (
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	watchdog "github.com/raulk/go-watchdog"
)

// Shedder refuses requests while the watchdog reports critical memory
// pressure: its Middleware answers them 503 Service Unavailable with a
// Retry-After header, so that clients and load balancers back off and send
// the work elsewhere, and passes them on at any other level.
//
// The level is kept in an atomic, updated by one goroutine that reads the
// watchdog's events (Follow). A request then costs one atomic load. Asking
// watchdog.Snapshot on every request would also work, but it takes two
// mutexes that the watchdog's loop takes at every sample and GC, and copies
// the whole Stats: under many concurrent requests they would all queue on
// those locks, and slow the watchdog down when it is busiest. The events
// cost the watchdog one non-blocking channel send each, however many
// requests there are.
//
// While it refuses requests, a server allocates little, and the watchdog
// sees the memory the program has freed since only after a GC: at critical
// pressure the watchdog may have handed the soft memory limit back to the
// runtime, and it forces GCs only as usage climbs past its thresholds, so
// that GC can be as far away as the runtime's own periodic one, two minutes.
// Follow therefore runs a GC every retry-after period while the level is
// critical: the clients told to come back then find a fresh level.
type Shedder struct {
	level      atomic.Int32  // a watchdog.Pressure
	retryAfter string        // whole seconds
	recheck    time.Duration // GC period while critical
}

// NewShedder returns a Shedder that tells refused clients to retry after
// retryAfter, rounded up to whole seconds (at least 1, as Retry-After counts
// seconds).
func NewShedder(retryAfter time.Duration) *Shedder {
	secs := max(1, int64(math.Ceil(retryAfter.Seconds())))
	return &Shedder{retryAfter: strconv.FormatInt(secs, 10), recheck: time.Duration(secs) * time.Second}
}

// Level returns the pressure level the Shedder last saw.
func (s *Shedder) Level() watchdog.Pressure { return watchdog.Pressure(s.level.Load()) }

// Follow keeps the level current from events, a channel from
// watchdog.Subscribe, until it is closed. Run it on a goroutine of its own:
//
//	events, cancel := watchdog.Subscribe(0)
//	defer cancel()
//	go shedder.Follow(events)
//
// It starts from watchdog.Snapshot's level when a watchdog is running, as no
// event may come for a while. Every event carries the level in force when it
// happened, so a pressure_changed event lost to a full channel is made up
// for by the next event of any kind. A stopped watchdog reports nothing
// more, so the level goes back to none: without a watchdog there is no
// pressure to shed for. While the level is critical it runs a GC every
// retry-after period (see Shedder).
func (s *Shedder) Follow(events <-chan watchdog.Event) {
	if snap := watchdog.Snapshot(); snap.Running {
		s.level.Store(int32(snap.Pressure))
	}
	recheck := time.NewTicker(s.recheck)
	defer recheck.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			level := ev.Pressure
			if ev.Kind == watchdog.EventStopped {
				level = watchdog.PressureNone
			}
			s.level.Store(int32(level))
		case <-recheck.C:
			if s.Level() == watchdog.PressureCritical {
				runtime.GC() // the watchdog updates the level after it
			}
		}
	}
}

// Middleware answers 503 with Retry-After while the level is critical, and
// passes the request to next otherwise. Wrap the handlers that take memory
// (work, uploads), not those that free it or report health.
func (s *Shedder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Level() == watchdog.PressureCritical {
			w.Header().Set("Retry-After", s.retryAfter)
			http.Error(w, "memory pressure is critical; retry later", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
