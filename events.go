package watchdog

import (
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event, in no particular order.
const (
	// EventStarted: a watchdog started. Limit and Threshold are its first.
	EventStarted EventKind = iota + 1
	// EventStopped: the watchdog stopped; the runtime settings it changed
	// are restored.
	EventStopped
	// EventThresholdCrossed: usage reached the policy's threshold. Reported
	// once per crossing, right before the GC the crossing forces.
	EventThresholdCrossed
	// EventGCForced: the watchdog forced a GC. Before and After are the
	// usage around it, Freed the difference (0 if usage grew).
	EventGCForced
	// EventGCIneffective: after a GC, forced or not, usage is still at or
	// above the threshold that was in force before it (Crossed). HeapLive
	// is the Go heap the GC found live and Outside the memory outside the
	// Go runtime; only the program can free those.
	EventGCIneffective
	// EventPressureChanged: the pressure level changed from OldPressure to
	// Pressure.
	EventPressureChanged
	// EventLimitChanged: the limit changed from OldLimit to Limit (0: no
	// limit any more), or the process moved to another cgroup (Source).
	EventLimitChanged
	// EventSoftLimitChanged: the watchdog changed the Go runtime's soft
	// memory limit from OldSoftLimit to SoftLimit (math.MaxInt64: none).
	EventSoftLimitChanged
)

var eventNames = [...]string{
	EventStarted:          "started",
	EventStopped:          "stopped",
	EventThresholdCrossed: "threshold_crossed",
	EventGCForced:         "gc_forced",
	EventGCIneffective:    "gc_ineffective",
	EventPressureChanged:  "pressure_changed",
	EventLimitChanged:     "limit_changed",
	EventSoftLimitChanged: "soft_limit_changed",
}

// String returns the kind in snake case, such as "gc_forced": the value of
// the event attribute of log lines and of the kind label of metrics.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing the watchdog saw or did. Sizes are in bytes; the
// fields after Pressure are set only for the kinds that name them.
type Event struct {
	Kind EventKind
	// Seq numbers the events of the process from 1. A subscriber that
	// sees a gap in Seq lost the events in between (its channel was full).
	Seq uint64
	// Time is when it happened, by Clock.
	Time time.Time
	// Driver is "heap", "cgroup" or "system".
	Driver string
	// Usage, Threshold (PolicyTempDisabled: none) and Limit (0: none) as
	// the watchdog saw them then, as in Stats.
	Usage, Threshold, Limit uint64
	// Pressure is the pressure level then.
	Pressure Pressure

	// Before, After and Freed: EventGCForced.
	Before, After, Freed uint64
	// Crossed, HeapLive and Outside: EventGCIneffective.
	Crossed, HeapLive, Outside uint64
	// OldPressure: EventPressureChanged.
	OldPressure Pressure
	// OldLimit and Source (where usage is read): EventLimitChanged.
	OldLimit uint64
	Source   string
	// SoftLimit and OldSoftLimit: EventSoftLimitChanged.
	SoftLimit, OldSoftLimit int64
}

// subscribers holds the channels of Subscribe.
var subscribers struct {
	mu   sync.Mutex
	seq  uint64
	subs []chan Event
}

// Subscribe returns a channel that receives the watchdog's events, of the
// running watchdog and of later ones, in the order they happened, until
// cancel is called; cancel closes the channel and may be called more than
// once. buffer is the channel's capacity; less than 1 means 64.
//
// The watchdog never waits for a subscriber: an event that finds the
// channel full is dropped for that subscriber, counted in
// Stats.EventsDropped, and shows as a gap in Seq. Read the channel from a
// goroutine of its own and keep the work per event short (or hand it off).
func Subscribe(buffer int) (events <-chan Event, cancel func()) {
	if buffer < 1 {
		buffer = 64
	}
	c := make(chan Event, buffer)
	subscribers.mu.Lock()
	subscribers.subs = append(subscribers.subs, c)
	subscribers.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			subscribers.mu.Lock()
			defer subscribers.mu.Unlock()
			for i, s := range subscribers.subs {
				if s == c {
					subscribers.subs = append(subscribers.subs[:i:i], subscribers.subs[i+1:]...)
					break
				}
			}
			close(c)
		})
	}
}

// emit completes ev with the run's state and delivers it to every
// subscriber without blocking. It counts the event in the stats whether or
// not anyone listens, and logs nothing.
func (r *run) emit(ev Event) {
	ev.Time, ev.Driver = Clock.Now(), r.driver
	ev.Usage, ev.Threshold, ev.Limit, ev.Pressure = r.usage, r.threshold, r.limit, r.level
	if ev.Kind == EventLimitChanged {
		ev.Source = r.srcName
	}
	subscribers.mu.Lock()
	subscribers.seq++
	ev.Seq = subscribers.seq
	dropped := 0
	for _, c := range subscribers.subs {
		select {
		case c <- ev:
		default:
			dropped++
		}
	}
	subscribers.mu.Unlock()
	r.statsMu.Lock()
	s := &r.stats
	s.EventsDropped += uint64(dropped)
	switch ev.Kind {
	case EventThresholdCrossed:
		s.ThresholdCrossings++
	case EventGCIneffective:
		s.GCsIneffective++
	case EventPressureChanged:
		s.PressureChanges++
	case EventLimitChanged:
		s.LimitChanges++
	case EventSoftLimitChanged:
		s.SoftLimitChanges++
	}
	r.statsMu.Unlock()
}
