package main

import (
	"fmt"
	"sync"
	"testing"

	watchdog "github.com/raulk/go-watchdog"
)

// fill puts n entries k0..k<n-1>, each of 2 + 8 bytes, in order.
func fill(c *Cache, n int) {
	for i := 0; i < n; i++ {
		c.Put(fmt.Sprintf("k%d", i), make([]byte, 8))
	}
}

func TestCacheAccounting(t *testing.T) {
	c := NewCache()
	fill(c, 4)
	if c.Len() != 4 || c.Bytes() != 40 {
		t.Fatalf("4 entries of 10 bytes: got %d entries, %d bytes", c.Len(), c.Bytes())
	}
	c.Put("k1", make([]byte, 18)) // replaces: 10 more bytes, no new entry
	if c.Len() != 4 || c.Bytes() != 50 {
		t.Fatalf("after replacing k1 with 18 bytes: got %d entries, %d bytes; want 4, 50", c.Len(), c.Bytes())
	}
	if v, ok := c.Get("k1"); !ok || len(v) != 18 {
		t.Fatalf("Get(k1) = %d bytes, %v; want the 18-byte value", len(v), ok)
	}
	if _, ok := c.Get("nope"); ok {
		t.Fatal("Get of a missing key reported a hit")
	}
}

func TestShedToDropsLeastRecentlyUsed(t *testing.T) {
	c := NewCache()
	fill(c, 4)                   // recency, oldest first: k0 k1 k2 k3
	c.Get("k0")                  // k1 k2 k3 k0
	c.Put("k2", make([]byte, 8)) // k1 k3 k0 k2
	s := c.ShedTo(0.5)
	if s.Entries != 2 || s.Bytes != 20 || s.KeptEntries != 2 || s.KeptBytes != 20 {
		t.Fatalf("ShedTo(0.5) of 40 bytes = %+v; want 2 entries (20 bytes) dropped, 2 (20 bytes) kept", s)
	}
	for _, k := range []string{"k1", "k3"} {
		if _, ok := c.Get(k); ok {
			t.Errorf("%s, among the least recently used, survived", k)
		}
	}
	for _, k := range []string{"k0", "k2"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s, recently used, was dropped", k)
		}
	}
}

func TestShedToRoundsDownToWholeEntries(t *testing.T) {
	c := NewCache()
	fill(c, 3) // 30 bytes
	if s := c.ShedTo(0.5); s.Entries != 2 || s.KeptBytes != 10 {
		t.Fatalf("ShedTo(0.5) of 30 bytes must keep at most 15: %+v", s)
	}
	if s := c.ShedTo(1); s.Entries != 0 || s.KeptEntries != 1 {
		t.Fatalf("ShedTo(1) must drop nothing: %+v", s)
	}
	if s := c.ShedTo(0); s.Entries != 1 || c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("ShedTo(0) must empty the cache: %+v, %d left", s, c.Len())
	}
	if s := c.ShedTo(0.5); s != (Shed{}) {
		t.Fatalf("shedding an empty cache: %+v", s)
	}
}

func TestClear(t *testing.T) {
	c := NewCache()
	fill(c, 5)
	if s := c.Clear(); s.Entries != 5 || s.Bytes != 50 {
		t.Fatalf("Clear = %+v; want 5 entries, 50 bytes", s)
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("after Clear: %d entries, %d bytes", c.Len(), c.Bytes())
	}
	fill(c, 1) // still usable
	if c.Len() != 1 {
		t.Fatal("Put after Clear failed")
	}
}

// pressure is an event that reports the level moving from old to p.
func pressure(old, p watchdog.Pressure) watchdog.Event {
	return watchdog.Event{Kind: watchdog.EventPressureChanged, OldPressure: old, Pressure: p}
}

// TestWatch feeds Watch a scripted event stream, as Subscribe would deliver
// it, and checks what it shed at each step.
func TestWatch(t *testing.T) {
	const (
		none     = watchdog.PressureNone
		moderate = watchdog.PressureModerate
		critical = watchdog.PressureCritical
	)
	steps := []struct {
		name  string
		ev    watchdog.Event
		shed  bool              // a shedding is reported, for the level after
		after watchdog.Pressure // the level Watch knows after the step
		left  int               // entries left of the 8 the step starts with
	}{
		{"an event at no pressure", watchdog.Event{Kind: watchdog.EventGCForced}, false, none, 8},
		{"none to moderate sheds half", pressure(none, moderate), true, moderate, 4},
		{"more events at moderate shed no more", watchdog.Event{Kind: watchdog.EventGCIneffective, Pressure: moderate}, false, moderate, 8},
		{"moderate to critical clears", pressure(moderate, critical), true, critical, 0},
		{"critical to moderate drops nothing", pressure(critical, moderate), false, moderate, 8},
		{"moderate to none drops nothing", pressure(moderate, none), false, none, 8},
		{"none to critical clears", pressure(none, critical), true, critical, 0},
		{"the watchdog stops", watchdog.Event{Kind: watchdog.EventStopped, Pressure: critical}, false, none, 8},
		{"a new watchdog starts", watchdog.Event{Kind: watchdog.EventStarted}, false, none, 8},
		// The pressure_changed event was lost (a full channel): the next
		// event shows the level.
		{"a gap, then an event at moderate", watchdog.Event{Kind: watchdog.EventGCForced, Pressure: moderate}, true, moderate, 4},
	}

	c := NewCache()
	events := make(chan watchdog.Event)
	sheds := make(chan Shed, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(events, func(s Shed) { sheds <- s })
	}()
	for _, st := range steps {
		c.Clear()
		fill(c, 8)
		events <- st.ev
		// An unbuffered send returns once Watch has the event, not once
		// it has handled it. A second event, at the level the first left,
		// changes nothing, and its send returns once the first is done.
		events <- watchdog.Event{Kind: watchdog.EventLimitChanged, Pressure: st.after}
		select {
		case s := <-sheds:
			if !st.shed {
				t.Errorf("%s: shed %+v", st.name, s)
			} else if s.Level != st.after {
				t.Errorf("%s: shed for level %v, want %v", st.name, s.Level, st.after)
			}
		default:
			if st.shed {
				t.Errorf("%s: no shedding reported", st.name)
			}
		}
		if got := c.Len(); got != st.left {
			t.Errorf("%s: %d entries left, want %d", st.name, got, st.left)
		}
	}
	close(events)
	<-done // Watch returns when the channel closes
}

// TestConcurrentUse runs Puts and Gets against sheddings, for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	c := NewCache()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				k := fmt.Sprintf("w%d-%d", w, i%50)
				c.Put(k, make([]byte, 16))
				c.Get(k)
			}
		}(w)
	}
	for i := 0; i < 100; i++ {
		c.ShedTo(0.5)
		if i%10 == 0 {
			c.Clear()
		}
	}
	wg.Wait()
	if c.Len() > 200 {
		t.Fatalf("%d entries; 4 writers cycle through 50 keys each", c.Len())
	}
}
