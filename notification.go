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
// it. Cycles that end back to back before the watchdog wakes up may be
// reported by one call. f runs on the watchdog goroutine: keep it short. The
// returned function unregisters f; calling it more than once is harmless.
func RegisterPostGCNotifee(f func()) (unregister func()) {
	return register(&notifees.post, f)
}

// RegisterPreGCNotifee registers f to be called right before each GC the
// watchdog forces (not before the runtime's own GCs). f runs on the watchdog
// goroutine. The returned function unregisters f; calling it more than once is
// harmless.
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

// notify calls every notifee in list, in registration order, plus extra (the
// deprecated NotifyGC hook) when it is not nil.
func notify(list *[]notifee, extra func()) {
	notifees.mu.Lock()
	snapshot := *list
	notifees.mu.Unlock()
	for _, n := range snapshot {
		if n.f != nil {
			n.f()
		}
	}
	if extra != nil {
		extra()
	}
}
