package watchdog

import (
	"reflect"
	"time"

	"github.com/benbjohnson/clock"
)

// waiter holds the loop's timers. With the real clock it reuses two
// time.Timers, so a wait allocates nothing; with any other Clock (a mock in
// tests) it asks the Clock for a timer at every wait.
type waiter struct {
	real      bool
	gapT, rtT *time.Timer
	mock      *clock.Timer
}

func newWaiter() *waiter {
	w := &waiter{real: isRealClock(Clock), gapT: time.NewTimer(time.Hour), rtT: time.NewTimer(time.Hour)}
	w.gapT.Stop()
	w.rtT.Stop()
	return w
}

func (w *waiter) gap(d time.Duration) <-chan time.Time {
	resetTimer(w.gapT, d)
	return w.gapT.C
}

func (w *waiter) tick(d time.Duration) <-chan time.Time {
	if w.real {
		resetTimer(w.rtT, d)
		return w.rtT.C
	}
	w.mock = Clock.Timer(d)
	return w.mock.C
}

// disarm stops a Clock timer after a wait; time.Timers are reset before use.
func (w *waiter) disarm() {
	if w.mock != nil {
		w.mock.Stop()
		w.mock = nil
	}
}

func (w *waiter) stop() {
	w.disarm()
	w.gapT.Stop()
	w.rtT.Stop()
}

// resetTimer resets t to d, draining a stale fire, under both the pre-1.23
// and the current timer semantics (the module that links the watchdog
// decides which one applies).
func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// isRealClock reports whether c is the clock package's real clock, whose
// timers are time.Timers.
func isRealClock(c clock.Clock) bool {
	return reflect.TypeOf(c) == realClockType
}

var realClockType = reflect.TypeOf(clock.New())
