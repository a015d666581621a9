// Package watchdogexpvar publishes the memory watchdog's state through the
// standard expvar package, so that /debug/vars shows it:
//
//	if err := watchdogexpvar.Publish(""); err != nil { // as "watchdog"
//		log.Print(err)
//	}
//
// Importing this package publishes nothing; Publish does, once per name.
// The value is watchdog.Snapshot() at each read, in the JSON form of
// watchdog.Stats (snake_case keys, sizes under keys ending in _bytes, null
// for "never" and "no limit").
//
// This package imports expvar, whose own init registers the /debug/vars
// handler on http.DefaultServeMux and links net/http into the program; that
// is why it is a package of its own and the watchdog package does not
// import it.
package watchdogexpvar

import (
	"expvar"
	"fmt"
	"sync"

	watchdog "github.com/raulk/go-watchdog"
)

// DefaultName is the expvar name Publish uses for "".
const DefaultName = "watchdog"

var mu sync.Mutex

// Publish publishes the watchdog's state as the expvar variable name, or
// DefaultName when name is empty. Each read of the variable takes a fresh
// watchdog.Snapshot, whether or not a watchdog is running.
//
// Publishing a name again is a no-op. A name already taken by another
// expvar variable is an error, and nothing is published (expvar.Publish
// would panic).
func Publish(name string) error {
	if name == "" {
		name = DefaultName
	}
	mu.Lock()
	defer mu.Unlock()
	switch v := expvar.Get(name).(type) {
	case nil:
		expvar.Publish(name, snapshotVar{})
		return nil
	case snapshotVar:
		return nil
	default:
		return fmt.Errorf("watchdogexpvar: the expvar name %q is taken by another variable (%T); pick another name", name, v)
	}
}

// snapshotVar is the expvar.Var Publish publishes.
type snapshotVar struct{}

func (snapshotVar) String() string { return Func().String() }

// Func returns an expvar.Func whose value is watchdog.Snapshot(), for
// programs that place it themselves, e.g. in an expvar.Map:
//
//	m := expvar.NewMap("myapp")
//	m.Set("watchdog", watchdogexpvar.Func())
func Func() expvar.Func {
	return func() any { return watchdog.Snapshot() }
}
