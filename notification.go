package watchdog

import "sync"

// notifees holds the registered callbacks. Callbacks run without the lock
// held, on a snapshot of the list, so a callback may register or unregister
// any notifee, itself included, without deadlocking.
var notifees struct {
	mu   sync.Mutex
	next int
	pre  []notifee
	post []notifee
}

type notifee struct {
	id int
	f  func()
}

// RegisterPostGCNotifee registers f to be called after every GC cycle the
// watchdog observes while it runs, whether the runtime or the watchdog started
// it, after the deprecated NotifyGC hook. Cycles that end back to back before
// the notifees run are reported by one call; Snapshot().GCs counts them all.
// f runs on the watchdog's callback goroutine, one call at a time: keep it
// short. It may panic (recovered and logged), block (the watchdog carries on
// without waiting), call Snapshot, register or unregister notifees, or stop
// the watchdog. The returned function unregisters f; calling it more than
// once is harmless.
func RegisterPostGCNotifee(f func()) (unregister func()) {
	return register(&notifees.post, f)
}

// RegisterPreGCNotifee registers f to be called right before each GC the
// watchdog forces (not before the runtime's own GCs), on the same goroutine
// and with the same guarantees as the post-GC notifees; the forced GC waits
// for the pre-GC notifees at most one second. The returned function
// unregisters f; calling it more than once is harmless.
func RegisterPreGCNotifee(f func()) (unregister func()) {
	return register(&notifees.pre, f)
}

func register(list *[]notifee, f func()) func() {
	notifees.mu.Lock()
	defer notifees.mu.Unlock()
	notifees.next++
	id := notifees.next
	*list = append(*list, notifee{id: id, f: f})
	return func() {
		notifees.mu.Lock()
		defer notifees.mu.Unlock()
		for i, n := range *list {
			if n.id == id {
				// Copy so snapshots taken by running notifications stay intact.
				*list = append((*list)[:i:i], (*list)[i+1:]...)
				return
			}
		}
	}
}

// notify calls first, when it is not nil, extra (the deprecated NotifyGC
// hook, which v1.3.0 also called first), then every notifee in list, in
// registration order. Each runs under e.safely: one that panics is reported
// and the others still run.
func notify(list *[]notifee, what string, extra func(), e *executor) {
	notifees.mu.Lock()
	snapshot := *list
	notifees.mu.Unlock()
	if extra != nil {
		e.safely("NotifyGC", extra)
	}
	for _, n := range snapshot {
		if n.f != nil {
			e.safely(what, n.f)
		}
	}
}
