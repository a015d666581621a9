package watchdog

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notifRecorder collects the names of the callbacks that ran, in order.
type notifRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *notifRecorder) fn(name string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, name)
	}
}

// take returns the recorded calls and clears the record.
func (r *notifRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// registerNotif registers f with reg and unregisters it when the test ends.
func registerNotif(t *testing.T, reg func(func()) func(), f func()) func() {
	t.Helper()
	unreg := reg(f)
	require.NotNil(t, unreg)
	t.Cleanup(unreg)
	return unreg
}

// notifeeLists are the two notifee lists with their register functions.
var notifeeLists = []struct {
	name string
	reg  func(func()) func()
	list *[]notifee
}{
	{"pre", RegisterPreGCNotifee, &notifees.pre},
	{"post", RegisterPostGCNotifee, &notifees.post},
}

func TestNotifeesOrderAndRemoval(t *testing.T) {
	for _, l := range notifeeLists {
		t.Run(l.name, func(t *testing.T) {
			rec := &notifRecorder{}
			unA := registerNotif(t, l.reg, rec.fn("a"))
			unB := registerNotif(t, l.reg, rec.fn("b"))
			unC := registerNotif(t, l.reg, rec.fn("c"))

			notifyNow(l.list, nil)
			assert.Equal(t, []string{"a", "b", "c"}, rec.take())

			unB()
			notifyNow(l.list, nil)
			assert.Equal(t, []string{"a", "c"}, rec.take())

			// Unregistering twice is harmless and removes nothing else.
			unB()
			notifyNow(l.list, nil)
			assert.Equal(t, []string{"a", "c"}, rec.take())

			// Re-registering the same function yields a new registration at
			// the end.
			registerNotif(t, l.reg, rec.fn("b"))
			notifyNow(l.list, nil)
			assert.Equal(t, []string{"a", "c", "b"}, rec.take())

			unA()
			unC()
			notifyNow(l.list, nil)
			assert.Equal(t, []string{"b"}, rec.take())
		})
	}
}

func TestNotifeesPreAndPostAreSeparate(t *testing.T) {
	rec := &notifRecorder{}
	registerNotif(t, RegisterPreGCNotifee, rec.fn("pre"))
	registerNotif(t, RegisterPostGCNotifee, rec.fn("post"))

	notifyNow(&notifees.pre, nil)
	assert.Equal(t, []string{"pre"}, rec.take())
	notifyNow(&notifees.post, nil)
	assert.Equal(t, []string{"post"}, rec.take())
}

func TestNotifeesUnregisterOtherKindIsIndependent(t *testing.T) {
	rec := &notifRecorder{}
	unPre := registerNotif(t, RegisterPreGCNotifee, rec.fn("pre"))
	registerNotif(t, RegisterPostGCNotifee, rec.fn("post"))

	unPre()
	unPre()
	notifyNow(&notifees.pre, nil)
	notifyNow(&notifees.post, nil)
	assert.Equal(t, []string{"post"}, rec.take())
}

// notifyNow runs notify on the calling goroutine, as the executor would.
func notifyNow(list *[]notifee, extra func()) {
	notify(list, "notifee", extra, newInlineExecutor(func(string, any) {}))
}

func TestNotifeesExtraRunsFirst(t *testing.T) {
	for _, list := range []*[]notifee{&notifees.pre, &notifees.post} {
		rec := &notifRecorder{}
		reg := RegisterPostGCNotifee
		if list == &notifees.pre {
			reg = RegisterPreGCNotifee
		}
		registerNotif(t, reg, rec.fn("first"))
		registerNotif(t, reg, rec.fn("second"))
		notifyNow(list, rec.fn("extra"))
		assert.Equal(t, []string{"extra", "first", "second"}, rec.take(), "NotifyGC runs before the notifees, as in v1.3.0")
	}

	// With no notifees of ours, extra still runs; a nil extra is fine.
	rec := &notifRecorder{}
	notifyNow(&notifees.post, rec.fn("extra"))
	assert.Equal(t, []string{"extra"}, rec.take())
	assert.NotPanics(t, func() { notifyNow(&notifees.post, nil) })
}

func TestNotifeeReentrantRegistration(t *testing.T) {
	for _, l := range notifeeLists {
		t.Run(l.name, func(t *testing.T) {
			rec := &notifRecorder{}
			var unSelf func()
			var mu sync.Mutex
			selfCalls := 0
			self := func() {
				rec.fn("self")()
				mu.Lock()
				selfCalls++
				mu.Unlock()
				// Unregister ourselves and register a replacement from
				// inside the callback: must not deadlock.
				unSelf()
				t.Cleanup(l.reg(rec.fn("new")))
			}
			registerNotif(t, l.reg, rec.fn("before"))
			unSelf = registerNotif(t, l.reg, self)
			registerNotif(t, l.reg, rec.fn("after"))

			done := make(chan struct{})
			go func() {
				defer close(done)
				notifyNow(l.list, rec.fn("extra"))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("notify deadlocked when a notifee (un)registered from its callback")
			}
			// The current round runs on a snapshot: "after" still runs,
			// "new" does not.
			assert.Equal(t, []string{"extra", "before", "self", "after"}, rec.take())

			// Next round: self is gone, the replacement runs at the end.
			notifyNow(l.list, nil)
			assert.Equal(t, []string{"before", "after", "new"}, rec.take())
			mu.Lock()
			assert.Equal(t, 1, selfCalls)
			mu.Unlock()
		})
	}
}

func TestNotifeeUnregistersAnotherDuringNotify(t *testing.T) {
	rec := &notifRecorder{}
	var unLater func()
	registerNotif(t, RegisterPostGCNotifee, func() {
		rec.fn("killer")()
		unLater()
	})
	unLater = registerNotif(t, RegisterPostGCNotifee, rec.fn("later"))

	// The snapshot was taken before "later" was removed; what matters is
	// that it is gone on the next round and that nothing deadlocks.
	notifyNow(&notifees.post, nil)
	first := rec.take()
	require.NotEmpty(t, first)
	assert.Equal(t, "killer", first[0])

	notifyNow(&notifees.post, nil)
	assert.Equal(t, []string{"killer"}, rec.take())
}

func TestNotifeesConcurrent(t *testing.T) {
	// Register, notify and unregister from several goroutines at once so the
	// race detector checks the locking.
	rec := &notifRecorder{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				un := RegisterPostGCNotifee(rec.fn("x"))
				notifyNow(&notifees.post, nil)
				un()
				un()
			}
		}()
	}
	wg.Wait()
	rec.take()
	notifyNow(&notifees.post, nil)
	assert.Empty(t, rec.take(), "every registration was removed")
}
